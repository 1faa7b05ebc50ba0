//! What each adapter reports about its connection: connected, last inbound, last sign of
//! life, last error, reconnects. `/readyz`, `channels.status` and the admin page show it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::core::sync::lock;
use crate::core::time::now_ms;

pub struct Liveness {
    pub channel: &'static str,
    mode: Mutex<&'static str>,
    connected: AtomicBool,
    last_inbound_ms: AtomicI64,
    /// Last poll answer, heartbeat ACK, pong or event: what tells deaf from quiet.
    last_alive_ms: AtomicI64,
    last_error: Mutex<Option<(i64, String)>>,
    reconnects: AtomicU64,
}

impl Liveness {
    pub fn new(channel: &'static str, mode: &'static str) -> Self {
        Self {
            channel,
            mode: Mutex::new(mode),
            connected: AtomicBool::new(false),
            last_inbound_ms: AtomicI64::new(0),
            last_alive_ms: AtomicI64::new(0),
            last_error: Mutex::new(None),
            reconnects: AtomicU64::new(0),
        }
    }

    pub fn set_mode(&self, mode: &'static str) {
        *lock(&self.mode) = mode;
    }

    pub fn connected(&self) {
        self.connected.store(true, Ordering::Release);
        self.alive();
    }

    pub fn disconnected(&self) {
        self.connected.store(false, Ordering::Release);
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub fn alive(&self) {
        self.last_alive_ms.store(now_ms(), Ordering::Release);
    }

    pub fn inbound(&self) {
        let now = now_ms();
        self.last_inbound_ms.store(now, Ordering::Release);
        self.last_alive_ms.store(now, Ordering::Release);
    }

    /// Records an error; the text must already be free of secrets.
    pub fn error(&self, message: impl Into<String>) {
        *lock(&self.last_error) = Some((now_ms(), message.into()));
    }

    pub fn reconnecting(&self) {
        self.disconnected();
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    pub fn view(&self) -> Value {
        let millis = |value: i64| (value > 0).then_some(value);
        let error = lock(&self.last_error).clone();
        json!({
            "mode": *lock(&self.mode),
            "connected": self.is_connected(),
            "lastInboundAtMs": millis(self.last_inbound_ms.load(Ordering::Acquire)),
            "lastAliveAtMs": millis(self.last_alive_ms.load(Ordering::Acquire)),
            "lastError": error.as_ref().map(|(_, message)| message),
            "lastErrorAtMs": error.map(|(at, _)| at),
            "reconnects": self.reconnects(),
        })
    }
}
