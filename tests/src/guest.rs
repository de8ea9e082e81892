//! The guest crate built for `wasm32-unknown-unknown` and run under wasmtime.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use wasmtime::{Engine, Instance, Memory, Module, Store, TypedFunc};

/// The guest crate's package name.
pub const GUEST_PACKAGE: &str = "sessionkeeper-parity-guest";
/// The wasm target the guest is built for (the one the npm package ships).
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Why the guest could not be built, loaded or called.
#[derive(Debug, thiserror::Error)]
pub enum GuestError {
    /// `cargo build` of the guest failed.
    #[error("building the wasm guest failed: {0}")]
    Build(String),
    /// wasmtime refused the module or a call trapped.
    #[error("wasmtime: {0}")]
    Wasm(String),
    /// The guest answered bytes that are not UTF-8 or pointed outside its memory.
    #[error("bad answer from the guest: {0}")]
    Answer(String),
}

fn wasm_err(e: impl std::fmt::Debug) -> GuestError {
    GuestError::Wasm(format!("{e:?}"))
}

/// A compiled guest module, shared by every instance.
#[derive(Clone)]
pub struct GuestModule {
    engine: Engine,
    module: Module,
    /// Where the `.wasm` came from.
    pub path: PathBuf,
}

impl std::fmt::Debug for GuestModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestModule").field("path", &self.path).finish()
    }
}

impl GuestModule {
    /// The guest for this process, built and compiled once: `SK_PARITY_WASM` if set, else a
    /// fresh `cargo build --release --target wasm32-unknown-unknown` of the guest crate.
    pub fn shared() -> Result<Arc<GuestModule>, String> {
        static SHARED: OnceLock<Result<Arc<GuestModule>, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| {
                let path = match std::env::var_os("SK_PARITY_WASM") {
                    Some(path) => PathBuf::from(path),
                    None => build_guest().map_err(|e| e.to_string())?,
                };
                GuestModule::load(&path).map(Arc::new).map_err(|e| e.to_string())
            })
            .clone()
    }

    /// Compiles a guest `.wasm`; it must have no imports.
    pub fn load(path: &Path) -> Result<Self, GuestError> {
        let bytes = std::fs::read(path)
            .map_err(|e| GuestError::Build(format!("cannot read {}: {e}", path.display())))?;
        let mut config = wasmtime::Config::new();
        match std::env::var("SK_PARITY_ENGINE").as_deref() {
            // Cranelift compiles the guest in ~40 s in a debug build of the test; opt-in only.
            Ok("cranelift") => {
                config.strategy(wasmtime::Strategy::Cranelift).cranelift_opt_level(wasmtime::OptLevel::None)
            }
            // Winch, the baseline compiler, takes ~4 s; the guest is already optimised by LLVM.
            _ => config.strategy(wasmtime::Strategy::Winch),
        };
        let engine = Engine::new(&config).map_err(wasm_err)?;
        let module = Module::new(&engine, &bytes).map_err(wasm_err)?;
        let imports: Vec<String> =
            module.imports().map(|i| format!("{}::{}", i.module(), i.name())).collect();
        if !imports.is_empty() {
            return Err(GuestError::Wasm(format!(
                "the guest must not import anything, it imports {imports:?}"
            )));
        }
        let guest = Self { engine, module, path: path.to_owned() };
        let wasm = guest.instantiate()?.fingerprint()?;
        let native = sessionkeeper_parity_guest::SOURCE_FINGERPRINT;
        if wasm != native {
            return Err(GuestError::Build(format!(
                "build skew: {} was built from other core/guest sources (fingerprint {wasm}) than this \
                 test binary ({native}); were the sources edited during the run? Run the test again",
                path.display()
            )));
        }
        Ok(guest)
    }

    /// Which wasmtime compiler compiled the module (`SK_PARITY_ENGINE=cranelift` picks
    /// Cranelift instead of the default Winch).
    pub fn engine_name() -> &'static str {
        match std::env::var("SK_PARITY_ENGINE").as_deref() {
            Ok("cranelift") => "cranelift",
            _ => "winch",
        }
    }

    /// A fresh instance (fresh memory, no driver yet).
    pub fn instantiate(&self) -> Result<GuestInstance, GuestError> {
        let mut store = Store::new(&self.engine, ());
        let instance = Instance::new(&mut store, &self.module, &[]).map_err(wasm_err)?;
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| GuestError::Wasm("the guest exports no `memory`".into()))?;
        let alloc = instance.get_typed_func(&mut store, "sk_alloc").map_err(wasm_err)?;
        let dealloc = instance.get_typed_func(&mut store, "sk_dealloc").map_err(wasm_err)?;
        let new = instance.get_typed_func(&mut store, "sk_new").map_err(wasm_err)?;
        let step = instance.get_typed_func(&mut store, "sk_step").map_err(wasm_err)?;
        let snapshot_every = instance.get_typed_func(&mut store, "sk_snapshot_every").map_err(wasm_err)?;
        let fingerprint = instance.get_typed_func(&mut store, "sk_fingerprint").map_err(wasm_err)?;
        Ok(GuestInstance { store, memory, alloc, dealloc, new, step, snapshot_every, fingerprint })
    }
}

/// One guest instance: one driver.
pub struct GuestInstance {
    store: Store<()>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    dealloc: TypedFunc<(u32, u32), ()>,
    new: TypedFunc<(u32, u32), u64>,
    step: TypedFunc<(u32, u32), u64>,
    snapshot_every: TypedFunc<u64, ()>,
    fingerprint: TypedFunc<(), u64>,
}

impl GuestInstance {
    /// `sk_snapshot_every(n)`: see `Driver::set_snapshot_every`.
    pub fn set_snapshot_every(&mut self, n: u64) -> Result<(), GuestError> {
        self.snapshot_every.call(&mut self.store, n).map_err(wasm_err)
    }

    /// `sk_new(config)`: the answer of `Driver::start` inside wasm.
    pub fn start(&mut self, config_json: &str) -> Result<String, GuestError> {
        let f = self.new.clone();
        self.call(f, config_json)
    }

    /// `sk_step(line)`: the answer of `Driver::step` inside wasm.
    pub fn step(&mut self, line: &str) -> Result<String, GuestError> {
        let f = self.step.clone();
        self.call(f, line)
    }

    /// `sk_fingerprint()`: the sources the wasm build was made from (see the guest's `build.rs`).
    pub fn fingerprint(&mut self) -> Result<String, GuestError> {
        let packed = self.fingerprint.call(&mut self.store, ()).map_err(wasm_err)?;
        self.read_answer(packed)
    }

    fn call(&mut self, f: TypedFunc<(u32, u32), u64>, request: &str) -> Result<String, GuestError> {
        let len = u32::try_from(request.len()).map_err(|_| GuestError::Answer("request too large".into()))?;
        let ptr = self.alloc.call(&mut self.store, len).map_err(wasm_err)?;
        self.memory.write(&mut self.store, ptr as usize, request.as_bytes()).map_err(wasm_err)?;
        let packed = f.call(&mut self.store, (ptr, len)).map_err(wasm_err)?;
        self.dealloc.call(&mut self.store, (ptr, len)).map_err(wasm_err)?;
        self.read_answer(packed)
    }

    fn read_answer(&mut self, packed: u64) -> Result<String, GuestError> {
        let (at, n) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        let bytes = self
            .memory
            .data(&self.store)
            .get(at..at + n)
            .ok_or_else(|| GuestError::Answer(format!("answer {at}+{n} is outside guest memory")))?;
        String::from_utf8(bytes.to_vec()).map_err(|e| GuestError::Answer(e.to_string()))
    }
}

/// The workspace root (the tests crate lives one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_owned()
}

/// Where the guest is built: `<target dir>/parity-wasm`, beside the test's own profile dir, so
/// the build does not wait for the lock the running `cargo test` holds.
pub fn guest_target_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    // <target>/<profile>/deps/<test binary>
    let target = exe.as_deref().and_then(|e| e.parent()?.parent()?.parent()).map(Path::to_owned);
    target.unwrap_or_else(|| workspace_root().join("target")).join("parity-wasm")
}

/// Builds the guest crate for wasm32 and returns the `.wasm` path.
pub fn build_guest() -> Result<PathBuf, GuestError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir = guest_target_dir();
    let output = Command::new(&cargo)
        .current_dir(workspace_root())
        .args(["build", "--release", "--target", WASM_TARGET, "-p", GUEST_PACKAGE, "--target-dir"])
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|e| GuestError::Build(format!("cannot run {cargo:?}: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        let hint = if stderr.contains("target may not be installed")
            || stderr.contains("can't find crate for `core`")
            || stderr.contains("can't find crate for `std`")
        {
            format!("\nhint: the {WASM_TARGET} target is missing: run `rustup target add {WASM_TARGET}`")
        } else {
            String::new()
        };
        return Err(GuestError::Build(format!(
            "`cargo build --release --target {WASM_TARGET} -p {GUEST_PACKAGE}` failed ({}):\n{}{hint}",
            output.status,
            tail.join("\n")
        )));
    }
    let wasm = target_dir.join(WASM_TARGET).join("release").join("sessionkeeper_parity_guest.wasm");
    if !wasm.is_file() {
        return Err(GuestError::Build(format!("the build succeeded but {} is missing", wasm.display())));
    }
    Ok(wasm)
}
