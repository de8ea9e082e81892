//! The C ABI the wasm build exports (it also compiles natively, where nothing calls it).
//!
//! One driver per instance. Answers live in a guest buffer that stays valid until the next
//! `sk_new` or `sk_step`; they are returned packed as `ptr << 32 | len` (wasm32 pointers).

use std::alloc::{alloc, dealloc, Layout};
use std::cell::RefCell;

use crate::driver::Driver;

thread_local! {
    static DRIVER: RefCell<Option<Driver>> = const { RefCell::new(None) };
    static ANSWER: RefCell<String> = const { RefCell::new(String::new()) };
}

fn layout(len: usize) -> Layout {
    Layout::from_size_align(len.max(1), 1).expect("byte layout")
}

/// Allocates `len` bytes for the host to write a request into.
#[no_mangle]
pub extern "C" fn sk_alloc(len: usize) -> *mut u8 {
    // SAFETY: the layout has a non-zero size.
    unsafe { alloc(layout(len)) }
}

/// Frees a buffer from [`sk_alloc`].
///
/// # Safety
/// `ptr` must come from `sk_alloc(len)` with the same `len` and not be freed yet.
#[no_mangle]
pub unsafe extern "C" fn sk_dealloc(ptr: *mut u8, len: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe { dealloc(ptr, layout(len)) }
}

/// Starts a driver from a config JSON object (replacing any previous one); answers
/// `{"config": ...}` or `{"error": ...}`.
///
/// # Safety
/// `ptr..ptr + len` must be readable guest memory.
#[no_mangle]
pub unsafe extern "C" fn sk_new(ptr: *const u8, len: usize) -> u64 {
    // SAFETY: guaranteed by the caller.
    let answer = match std::str::from_utf8(unsafe { request(ptr, len) }) {
        Ok(config) => {
            let (driver, answer) = Driver::start(config);
            DRIVER.with(|d| *d.borrow_mut() = driver);
            answer
        }
        Err(e) => format!("{{\"error\":\"config is not UTF-8: {e}\"}}"),
    };
    publish(answer)
}

/// The build's [`crate::SOURCE_FINGERPRINT`].
#[no_mangle]
pub extern "C" fn sk_fingerprint() -> u64 {
    publish(crate::SOURCE_FINGERPRINT.to_owned())
}

/// Includes the snapshot only in every `n`-th answer (see `Driver::set_snapshot_every`).
#[no_mangle]
pub extern "C" fn sk_snapshot_every(n: u64) {
    DRIVER.with(|d| {
        if let Some(driver) = d.borrow_mut().as_mut() {
            driver.set_snapshot_every(n);
        }
    });
}

/// Applies one step line; answers what [`Driver::step`] answers, or `{"error": "no driver"}`.
///
/// # Safety
/// `ptr..ptr + len` must be readable guest memory.
#[no_mangle]
pub unsafe extern "C" fn sk_step(ptr: *const u8, len: usize) -> u64 {
    // SAFETY: guaranteed by the caller.
    let answer = match std::str::from_utf8(unsafe { request(ptr, len) }) {
        Ok(line) => DRIVER.with(|d| match d.borrow_mut().as_mut() {
            Some(driver) => driver.step(line),
            None => "{\"error\":\"no driver\"}".to_owned(),
        }),
        Err(e) => format!("{{\"error\":\"step is not UTF-8: {e}\"}}"),
    };
    publish(answer)
}

/// # Safety
/// `ptr..ptr + len` must be readable.
unsafe fn request<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

fn publish(answer: String) -> u64 {
    ANSWER.with(|a| {
        let mut a = a.borrow_mut();
        *a = answer;
        ((a.as_ptr() as usize as u64) << 32) | a.len() as u64
    })
}
