//! The one clock of a recording.
//!
//! Media time is monotonic time since [`Clock::start`], minus every paused interval. Sources ask
//! it for "now" (real devices stamp what they deliver) or wait on it (synthetic sources produce
//! each frame or chunk exactly when its media time comes). Because paused intervals are cut out
//! of media time, pause/resume leaves no gap in the output timeline, and everything captured
//! while paused maps to no media time at all and is discarded.
//!
//! In [`ClockMode::Virtual`] nothing waits: sources run as fast as the consumer takes their
//! output (offline renders and throughput benchmarks). Real devices cannot run on it.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMode {
    /// Paced by the monotonic clock.
    Realtime,
    /// Unpaced: waiting for a media time returns at once.
    Virtual,
}

/// What [`Clock::wait_until`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The media time was reached; the value is how late the caller woke (zero when virtual).
    Reached(Duration),
    /// The clock was stopped: the source should finish.
    Stopped,
}

#[derive(Clone)]
pub struct Clock(Arc<Inner>);

struct Inner {
    mode: ClockMode,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    started: Option<Instant>,
    paused_at: Option<Instant>,
    /// Closed pauses, in order: (from, to).
    pauses: Vec<(Instant, Instant)>,
    paused_total: Duration,
    stopped: bool,
    /// Media time frozen at stop, so late readers see a stable end.
    stopped_at: Option<Duration>,
}

impl State {
    fn media_now(&self, now: Instant) -> Option<Duration> {
        let start = self.started?;
        let paused_open = self.paused_at.map_or(Duration::ZERO, |p| now.saturating_duration_since(p));
        Some(now.saturating_duration_since(start).saturating_sub(self.paused_total + paused_open))
    }
}

impl Clock {
    pub fn new(mode: ClockMode) -> Self {
        Clock(Arc::new(Inner { mode, state: Mutex::new(State::default()), changed: Condvar::new() }))
    }

    pub fn mode(&self) -> ClockMode {
        self.0.mode
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent (every update is
        // a single assignment), so a poisoned lock is still usable.
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts media time at zero. Sources waiting for their first media time are released.
    pub fn start(&self) {
        let mut s = self.lock();
        if s.started.is_none() {
            s.started = Some(Instant::now());
        }
        self.0.changed.notify_all();
    }

    pub fn is_started(&self) -> bool {
        self.lock().started.is_some()
    }

    pub fn pause(&self) {
        let mut s = self.lock();
        if s.started.is_some() && s.paused_at.is_none() && !s.stopped {
            s.paused_at = Some(Instant::now());
        }
        self.0.changed.notify_all();
    }

    pub fn resume(&self) {
        let mut s = self.lock();
        if let Some(from) = s.paused_at.take() {
            let to = Instant::now();
            s.paused_total += to - from;
            s.pauses.push((from, to));
        }
        self.0.changed.notify_all();
    }

    pub fn is_paused(&self) -> bool {
        self.lock().paused_at.is_some()
    }

    /// Stops the clock: every waiting source is woken with [`Wait::Stopped`].
    pub fn stop(&self) {
        let mut s = self.lock();
        if !s.stopped {
            s.stopped_at = Some(s.media_now(Instant::now()).unwrap_or_default());
            s.stopped = true;
        }
        self.0.changed.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        self.lock().stopped
    }

    /// Blocks until the clock is stopped (for threads that only keep a device open).
    pub fn wait_stopped(&self) {
        let mut s = self.lock();
        while !s.stopped {
            s = self.0.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Media time now, or `None` before start, while paused and after stop.
    pub fn now(&self) -> Option<Duration> {
        let s = self.lock();
        if s.stopped || s.paused_at.is_some() {
            return None;
        }
        s.media_now(Instant::now())
    }

    /// Media time elapsed so far, frozen while paused and after stop (for progress displays).
    pub fn elapsed(&self) -> Duration {
        let s = self.lock();
        s.stopped_at.or_else(|| s.media_now(Instant::now())).unwrap_or_default()
    }

    /// Maps the instant at which a device captured something to media time; `None` if it was
    /// captured before start, while paused, or after stop.
    pub fn media_time_of(&self, at: Instant) -> Option<Duration> {
        let s = self.lock();
        let start = s.started?;
        if at < start {
            return None;
        }
        let mut cut = Duration::ZERO;
        for &(from, to) in &s.pauses {
            if at >= to {
                cut += to - from;
            } else if at >= from {
                return None;
            }
        }
        if let Some(p) = s.paused_at {
            if at >= p {
                return None;
            }
        }
        let media = (at - start).saturating_sub(cut);
        match s.stopped_at {
            Some(end) if media > end => None,
            _ => Some(media),
        }
    }

    /// Blocks until media time reaches `t` (not while paused, not before start), or the clock
    /// stops. Virtual clocks return at once once started.
    pub fn wait_until(&self, t: Duration) -> Wait {
        let mut s = self.lock();
        loop {
            if s.stopped {
                return Wait::Stopped;
            }
            if s.started.is_some() && self.0.mode == ClockMode::Virtual {
                return Wait::Reached(Duration::ZERO);
            }
            let timeout = match (s.paused_at, s.media_now(Instant::now())) {
                (None, Some(now)) if now >= t => return Wait::Reached(now - t),
                (None, Some(now)) => t - now,
                // Not started or paused: sleep until something changes.
                _ => Duration::from_millis(250),
            };
            s = self.0.changed.wait_timeout(s, timeout).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::sleep;

    #[test]
    fn pause_cuts_time_out() {
        let c = Clock::new(ClockMode::Realtime);
        assert_eq!(c.now(), None);
        c.start();
        sleep(Duration::from_millis(30));
        c.pause();
        let during = Instant::now();
        assert_eq!(c.now(), None);
        sleep(Duration::from_millis(100));
        c.resume();
        assert_eq!(c.media_time_of(during), None, "captured while paused maps to nothing");
        let now = c.now().unwrap();
        assert!(now >= Duration::from_millis(30) && now < Duration::from_millis(90), "{now:?}");
        c.stop();
        assert_eq!(c.wait_until(Duration::from_secs(100)), Wait::Stopped);
    }

    #[test]
    fn wait_until_wakes_on_time() {
        let c = Clock::new(ClockMode::Realtime);
        c.start();
        match c.wait_until(Duration::from_millis(20)) {
            Wait::Reached(late) => assert!(late < Duration::from_millis(15), "{late:?}"),
            Wait::Stopped => panic!("not stopped"),
        }
        assert!(c.now().unwrap() >= Duration::from_millis(20));
    }

    #[test]
    fn virtual_clock_does_not_wait() {
        let c = Clock::new(ClockMode::Virtual);
        c.start();
        assert_eq!(c.wait_until(Duration::from_secs(3600)), Wait::Reached(Duration::ZERO));
    }
}
