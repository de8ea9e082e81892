//! The simulator's key figures on small scenarios (fast in debug builds).

use sessionkeeper_sim::{
    run_cli_to, simulate, simulate_all, Policy, Scenario, SimError, MINUTE_MS, PENDING_LIMIT_MS,
};

fn cli(args: &[&str]) -> Result<String, SimError> {
    let mut out = Vec::new();
    run_cli_to(args.iter().map(|s| s.to_string()).collect(), &mut out)?;
    Ok(String::from_utf8(out).expect("utf-8"))
}

/// 120 users for 50 minutes of the default scenario: the boot burst and the start of the morning
/// peak, a healthy backend.
fn small() -> Scenario {
    Scenario::default_for(120, 50.0 / 60.0, 7)
}

#[test]
fn sessionkeeper_loses_no_qr_and_no_status_on_a_small_fleet() {
    let sc = small();
    for policy in [Policy::Sessionkeeper, Policy::SessionkeeperAdaptive] {
        let r = simulate(&sc, policy).unwrap();
        assert!(r.qr_produced > 20, "{}: the scenario shows QRs ({})", r.policy, r.qr_produced);
        assert_eq!(r.qr_lost + r.qr_lost_in_outage, 0, "{}: {r:?}", r.policy);
        assert_eq!(r.status_lost, 0, "{}", r.policy);
        assert_eq!(r.breaker_opens, 0, "{}", r.policy);
        assert!(r.max_pending_age_ms <= PENDING_LIMIT_MS, "{}: {}", r.policy, r.max_pending_age_ms);
        assert_eq!(r.pending_over_timeout, 0);
        assert!(r.links_completed > 10, "{}: users get linked", r.policy);
    }
}

#[test]
fn seed_before_keeps_never_scanned_sessions_pending_forever() {
    let sc = small();
    let before = simulate(&sc, Policy::SeedBefore).unwrap();
    let keeper = simulate(&sc, Policy::Sessionkeeper).unwrap();
    assert!(before.max_pending_age_ms > 10 * MINUTE_MS, "{}", before.max_pending_age_ms);
    assert!(before.ghost_sessions_end > 0);
    assert!(before.qr_produced > 2 * keeper.qr_produced, "QRs for sessions nobody scans");
    assert_eq!(keeper.ghost_sessions_end, 0);
}

/// 300 new users arrive within about two minutes and none scans: QRs arrive faster than 2.5/s.
fn qr_storm() -> Scenario {
    let mut sc = Scenario::default_for(300, 0.25, 11);
    sc.linked_share = 0.0;
    sc.peak_share = 1.0;
    sc.peak_center_ms = 2 * MINUTE_MS;
    sc.peak_sd_ms = 30_000;
    sc.never_scan_share = 1.0;
    sc
}

#[test]
fn seed_after_keeps_a_backlog_when_qrs_arrive_faster_than_its_pace() {
    let sc = qr_storm();
    let after = simulate(&sc, Policy::SeedAfter).unwrap();
    let keeper = simulate(&sc, Policy::Sessionkeeper).unwrap();
    // 300 sessions x up to 5 QRs in ~4 minutes is well above 2.5 requests/s.
    assert!(after.qr_produced > 900, "{}", after.qr_produced);
    assert!(after.max_queue_depth > 300, "FIFO backlog: {}", after.max_queue_depth);
    assert!(after.qr_staleness_p50_ms > 60_000, "stale QRs: {}", after.qr_staleness_p50_ms);
    assert!(after.qr_lost > after.qr_produced / 2, "{} of {}", after.qr_lost, after.qr_produced);
    // The keeper coalesces (latest QR wins) and so keeps a bounded queue of fresh QRs.
    assert!(keeper.qr_superseded > 100, "{}", keeper.qr_superseded);
    assert!(keeper.max_queue_depth < after.max_queue_depth);
    assert!(keeper.qr_staleness_p50_ms < after.qr_staleness_p50_ms);
    assert!(keeper.qr_lost < after.qr_lost);
    assert!(after.backend_offered_peak_rps <= 2.5 + 1e-9);
}

#[test]
fn same_seed_same_json_other_seed_other_json() {
    let args = ["--users", "60", "--hours", "0.5", "--seed", "3", "--json"];
    let a = cli(&args).unwrap();
    let b = cli(&args).unwrap();
    assert_eq!(a, b);
    let c = cli(&["--users", "60", "--hours", "0.5", "--seed", "4", "--json"]).unwrap();
    assert_ne!(a, c);
    assert_eq!(a.lines().count(), 1, "one JSON object");
    let v: serde_json::Value = serde_json::from_str(&a).unwrap();
    assert_eq!(v["scenario"]["users"], 60);
    let policies = v["policies"].as_array().unwrap();
    let names: Vec<&str> = policies.iter().map(|p| p["policy"].as_str().unwrap()).collect();
    assert_eq!(names, ["seed-before", "seed-after", "sessionkeeper", "sessionkeeper-adaptive"]);
    for key in [
        "breakerOpensPerHour",
        "qrProduced",
        "qrDelivered",
        "qrSuperseded",
        "qrLost",
        "statusLost",
        "qrStalenessP50Ms",
        "qrStalenessP99Ms",
        "maxPendingAgeMs",
        "maxSessionsHeld",
        "backendOfferedRps",
        "backendCapacityRps",
    ] {
        assert!(policies.iter().all(|p| p.get(key).is_some_and(|x| x.is_number())), "{key}");
    }
}

#[test]
fn pacing_flag_table_and_plot() {
    let table = cli(&["--users", "30", "--hours", "0.2", "--pacing", "adaptive"]).unwrap();
    assert!(table.contains("sessionkeeper-adaptive") && table.contains("seed-after"));
    assert!(!table.contains("sessionkeeper "), "{table}");
    let path = std::env::temp_dir().join(format!("sk-sim-plot-{}.svg", std::process::id()));
    let path_s = path.to_string_lossy().to_string();
    cli(&["--users", "30", "--hours", "0.2", "--pacing", "fixed", "--json", "--plot", &path_s]).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{}", &svg[..40.min(svg.len())]);
    assert!(svg.contains("sessionkeeper: queue depth") && svg.contains("seed-before: sessions held"));
}

#[test]
fn bad_arguments_are_typed_errors() {
    assert!(matches!(cli(&["--users", "many"]), Err(SimError::Args(_))));
    assert!(matches!(cli(&["--pacing", "turbo"]), Err(SimError::Args(_))));
    assert!(matches!(cli(&["--hours", "0"]), Err(SimError::Scenario(_))));
    assert!(cli(&["--help"]).unwrap().contains("--users"));
}

#[test]
fn every_policy_accounts_for_every_qr() {
    let sc = small();
    let all = simulate_all(&sc, &Policy::ALL).unwrap();
    for p in &all.policies {
        assert_eq!(
            p.qr_delivered_valid + p.qr_lost + p.qr_lost_in_outage + p.qr_unsettled,
            p.qr_produced,
            "{}",
            p.policy
        );
        assert!(p.qr_delivered >= p.qr_delivered_valid);
        assert!(p.qr_staleness_p50_ms <= p.qr_staleness_p99_ms);
        assert!(p.max_sessions_held <= u64::from(sc.users));
    }
}

/// 400 linked sessions restored within 30 s (a burst of `connected` statuses: 160 s of work at
/// 2.5 requests/s) while 40 new users link in the same minutes.
fn status_burst() -> Scenario {
    let mut sc = Scenario::default_for(440, 0.1, 5);
    sc.linked_share = 400.0 / 440.0;
    sc.restore_window_ms = 30_000;
    sc.peak_share = 1.0;
    sc.peak_center_ms = 60_000;
    sc.peak_sd_ms = 20_000;
    sc.never_scan_share = 0.0;
    sc.blips_ms.clear();
    sc
}

#[test]
fn a_status_burst_does_not_starve_new_sessions_qrs() {
    let sc = status_burst();
    let keeper = simulate(&sc, Policy::Sessionkeeper).unwrap();
    let after = simulate(&sc, Policy::SeedAfter).unwrap();
    assert!(keeper.max_queue_depth > 100, "there is a backlog: {}", keeper.max_queue_depth);
    assert!(keeper.qr_produced >= 20, "{}", keeper.qr_produced);
    assert_eq!(keeper.qr_lost, 0, "{keeper:?}");
    assert!(keeper.qr_staleness_p99_ms < 5_000, "{}", keeper.qr_staleness_p99_ms);
    assert!(after.qr_lost > 0, "the FIFO makes QRs wait behind the burst");
    assert!(keeper.links_completed > after.links_completed);
}
