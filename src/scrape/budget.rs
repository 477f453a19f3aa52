//! Call budgets of the API collectors, as rates: a token bucket per collector that fills
//! at `calls-per-second` and holds at most a minute of calls, so that the load on
//! Arroyo's API is a rate an operator can reason about, whatever the scrape interval
//! and however many Prometheus servers scrape. Also the read plan of the checkpoints
//! collector: which jobs' checkpoint lists are worth a call now.
//!
//! Pure: the clock comes in as an argument. Written here rather than taken from a
//! rate-limiting crate (governor and the like) because those delay callers until a call
//! is allowed, while a scrape must never wait: it asks how many calls it may make now
//! and leaves the rest to a later scrape.

use tokio::time::Instant;

/// Seconds of calls a bucket holds when full: scrape intervals up to a minute get the
/// whole rate.
pub const BUCKET_SECONDS: f64 = 60.0;

/// A token bucket: `per_second` calls a second on average, at most `per_scrape` in one
/// scrape.
#[derive(Debug, Clone)]
pub struct CallBudget {
    per_second: f64,
    per_scrape: Option<usize>,
    capacity: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl CallBudget {
    /// A full bucket filling at `per_second` (> 0), handing out at most `per_scrape`
    /// calls to one scrape when set.
    pub fn new(per_second: f64, per_scrape: Option<usize>) -> CallBudget {
        let capacity = (per_second * BUCKET_SECONDS).max(1.0);
        CallBudget {
            per_second,
            per_scrape,
            capacity,
            tokens: capacity,
            last: None,
        }
    }

    /// The configured rate.
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Takes up to `wanted` calls at `now`; returns how many may be made.
    pub fn take(&mut self, now: Instant, wanted: usize) -> usize {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.per_second).min(self.capacity);
        }
        self.last = Some(now);
        let mut n = wanted.min(self.tokens.floor() as usize);
        if let Some(cap) = self.per_scrape {
            n = n.min(cap);
        }
        self.tokens -= n as f64;
        n
    }

    /// Gives back `n` calls taken but not made.
    pub fn refund(&mut self, n: usize) {
        self.tokens = (self.tokens + n as f64).min(self.capacity);
    }

    /// Seconds it takes this budget to make `calls` calls: the period in which each of
    /// `calls` jobs is read once.
    pub fn period_seconds(&self, calls: usize) -> f64 {
        calls as f64 / self.per_second
    }
}

/// What the last read of a job's checkpoint list showed, for planning the next one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastRead {
    /// When it was read (monotonic).
    pub at: Instant,
    /// When it was read, µs since the Unix epoch.
    pub wall_micros: u64,
    /// When the newest completed checkpoint finished then (µs), if any.
    pub completed_micros: Option<u64>,
}

/// How urgent a read of one job's checkpoints is; lower is more urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Urgency {
    /// Never read: nothing is known.
    Unknown,
    /// The last read showed no checkpoint completed for over two intervals: read again
    /// soon, to confirm a stall or see it end.
    Late,
    /// A checkpoint should have completed since the last read (its next one was due).
    Due,
    /// Nothing new is expected yet; read only with calls to spare.
    Early,
}

/// How urgent reading a job is at `now_micros`, given its checkpoint `interval_micros`
/// and what its `last` read showed.
pub fn urgency(last: Option<&LastRead>, interval_micros: u64, now_micros: u64) -> Urgency {
    let Some(last) = last else {
        return Urgency::Unknown;
    };
    let Some(completed) = last.completed_micros else {
        return Urgency::Due;
    };
    let age_at_read = last.wall_micros.saturating_sub(completed);
    if age_at_read > 2 * interval_micros {
        Urgency::Late
    } else if now_micros >= completed.saturating_add(interval_micros) {
        Urgency::Due
    } else {
        Urgency::Early
    }
}

/// The order in which to read `jobs` (`(index, urgency, last read)`): most urgent
/// first; among equals, the one read longest ago. At most half of `calls` go to `Late`
/// jobs, so that a fleet where many jobs look late still re-reads the others.
pub fn plan(mut jobs: Vec<(usize, Urgency, Option<Instant>)>, calls: usize) -> Vec<usize> {
    jobs.sort_by_key(|&(i, u, at)| (u, at, i));
    let late_cap = calls.div_ceil(2);
    let mut late = 0;
    let mut chosen = Vec::with_capacity(calls);
    let mut skipped = Vec::new();
    for (i, u, _) in jobs {
        if chosen.len() == calls {
            break;
        }
        if u == Urgency::Late {
            if late == late_cap {
                skipped.push(i);
                continue;
            }
            late += 1;
        }
        chosen.push(i);
    }
    for i in skipped {
        if chosen.len() == calls {
            break;
        }
        chosen.push(i);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_hands_out_its_rate() {
        let t0 = Instant::now();
        let mut b = CallBudget::new(2.0, None);
        // Full at first: a minute of calls.
        assert_eq!(b.take(t0, 1_000), 120);
        assert_eq!(b.take(t0, 10), 0);
        // 15 s later: 30 calls.
        assert_eq!(b.take(t0 + Duration::from_secs(15), 1_000), 30);
        // Fewer wanted than allowed: the rest stays.
        assert_eq!(b.take(t0 + Duration::from_secs(30), 10), 10);
        assert_eq!(b.take(t0 + Duration::from_secs(30), 100), 20);
        // Never more than a minute's worth, however long the pause.
        assert_eq!(b.take(t0 + Duration::from_secs(3_600), 1_000), 120);
    }

    #[test]
    fn two_scrapers_share_one_rate() {
        let t0 = Instant::now();
        let mut b = CallBudget::new(4.0, None);
        b.take(t0, 1_000);
        let mut total = 0;
        // Two Prometheus servers, each every 15 s, 7.5 s apart, for 10 minutes.
        for k in 1..=80u64 {
            total += b.take(t0 + Duration::from_millis(7_500 * k), 1_000);
        }
        assert_eq!(total, 4 * 600);
    }

    #[test]
    fn the_per_scrape_bound_and_refunds() {
        let t0 = Instant::now();
        let mut b = CallBudget::new(10.0, Some(5));
        assert_eq!(b.take(t0, 100), 5);
        b.refund(3);
        assert_eq!(b.take(t0, 100), 5);
        assert!((b.period_seconds(1_000) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn a_slow_rate_still_makes_calls() {
        let t0 = Instant::now();
        let mut b = CallBudget::new(0.01, None);
        assert_eq!(b.take(t0, 5), 1);
        assert_eq!(b.take(t0 + Duration::from_secs(50), 5), 0);
        assert_eq!(b.take(t0 + Duration::from_secs(100), 5), 1);
    }

    fn read(at: Instant, wall: u64, completed: Option<u64>) -> LastRead {
        LastRead {
            at,
            wall_micros: wall,
            completed_micros: completed,
        }
    }

    #[test]
    fn urgency_follows_the_checkpoint_interval() {
        let t = Instant::now();
        let s = 1_000_000;
        assert_eq!(urgency(None, 10 * s, 100 * s), Urgency::Unknown);
        // Read at 100 s, completed at 95 s, interval 10 s: next due at 105 s.
        let r = read(t, 100 * s, Some(95 * s));
        assert_eq!(urgency(Some(&r), 10 * s, 101 * s), Urgency::Early);
        assert_eq!(urgency(Some(&r), 10 * s, 105 * s), Urgency::Due);
        // An hourly checkpoint read a minute after it completed: early for an hour.
        let r = read(t, 100 * s, Some(40 * s));
        assert_eq!(urgency(Some(&r), 3_600 * s, 1_000 * s), Urgency::Early);
        // Nothing completed for over two intervals when read: late.
        let r = read(t, 100 * s, Some(75 * s));
        assert_eq!(urgency(Some(&r), 10 * s, 101 * s), Urgency::Late);
        // No completed checkpoint yet: due.
        let r = read(t, 100 * s, None);
        assert_eq!(urgency(Some(&r), 10 * s, 101 * s), Urgency::Due);
    }

    #[test]
    fn the_plan_reads_the_urgent_and_the_oldest_first() {
        let t = Instant::now();
        let at = |s: u64| Some(t + Duration::from_secs(s));
        let jobs = vec![
            (0, Urgency::Early, at(1)),
            (1, Urgency::Due, at(5)),
            (2, Urgency::Due, at(2)),
            (3, Urgency::Unknown, None),
            (4, Urgency::Late, at(9)),
        ];
        assert_eq!(plan(jobs.clone(), 5), vec![3, 4, 2, 1, 0]);
        assert_eq!(plan(jobs.clone(), 2), vec![3, 4]);
        assert_eq!(plan(jobs, 0), Vec::<usize>::new());
    }

    #[test]
    fn late_jobs_take_at_most_half_the_calls() {
        let t = Instant::now();
        let mut jobs: Vec<_> = (0..10).map(|i| (i, Urgency::Late, Some(t))).collect();
        jobs.push((10, Urgency::Due, Some(t)));
        jobs.push((11, Urgency::Due, Some(t)));
        let p = plan(jobs.clone(), 4);
        assert_eq!(p, vec![0, 1, 10, 11]);
        // With nothing else to read, late jobs fill the calls.
        let only_late: Vec<_> = jobs.into_iter().filter(|j| j.1 == Urgency::Late).collect();
        assert_eq!(plan(only_late, 4), vec![0, 1, 2, 3]);
    }
}
