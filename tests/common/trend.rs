//! Trend verdicts for soak tests: does a quantity sampled along a run (resident memory,
//! open file descriptors) keep growing, or did it only move once and stay there?
//!
//! # Why a trend, and which one
//!
//! A leak is growth that goes on: every scrape leaves something behind, so the samples
//! climb at a steady rate for as long as the run lasts. An allocator step is different:
//! glibc takes a new arena or heap segment, the resident size jumps once by a few MB and
//! stays flat afterwards. Comparing the last sample with a baseline cannot tell the two
//! apart (a 4 MB step in a 40 MB process is 10 %), and a busy machine makes such steps
//! more likely. So the verdict judges the *rate* of growth, in four moves:
//!
//! 1. **Window.** Only the second half of the samples is judged: the first half holds
//!    the warm-up, where pools, caches and arenas fill up, often as a ramp rather than a
//!    single step (and a ramp inside a short window is indistinguishable from a leak).
//! 2. **Floor.** Every sample is replaced by the minimum of itself and its two
//!    neighbours on each side (`FLOOR_HALF_WIDTH`; an erosion, in image-processing
//!    terms), then by the minimum of itself and every later sample. Real samples carry
//!    upward excursions that say nothing about leaks: a buffer still held when the
//!    sample was read (+700 KiB on one sample in ten), or held across rounds for a
//!    while depending on timing (+800 KiB for many samples in a row). The floor is
//!    what the process holds for good from then on: a leak raises it as much as the
//!    samples, a step up stays a step, and growth given back later (the allocator
//!    trimming) is not counted.
//! 3. **A line with one free step.** A plain least-squares slope is moved by a step
//!    inside the window: a step of height h in the middle of a window of length L reads
//!    as a slope of about 1.5·h/L (4 MB over 500 scrapes: 12 KiB per scrape, far above
//!    any leak bound). Theil–Sen (the median of pairwise slopes) does not help either:
//!    with n points and a step after the k-th, k·(n−k) of the n·(n−1)/2 pairs straddle
//!    the step, more than half when k is near n/2, so the median is a straddling slope.
//!    The floor is therefore fitted with `y = a + b·x + c·[x ≥ x_k]`: one common slope
//!    `b` and an intercept that may jump once, by `c`, at whichever split `k` leaves the
//!    smallest squared residual (up to two samples at the split may be left out, for
//!    spikes next to the step, which the floor turns into points between the levels). For a fixed split, `b` is the
//!    pooled slope within the two segments, so a step anywhere (first point, middle,
//!    last point) goes into `c` and leaves `b` alone, while a leak raises the samples on
//!    both sides of every split, cannot be absorbed by one jump, and stays in `b`.
//! 4. **Growth must be kept.** The allocator also creeps: under a CPU hog the floor
//!    rose by 330 KiB over 140 scrapes and was then trimmed back below where it started,
//!    which the fit reads as a slope followed by a drop. A leak never gives memory back,
//!    so a slope over the bound fails only when the floor also *kept* at least half the
//!    bound's growth from the window's first sample to its last (an upward step does
//!    not count as kept growth; a drop counts against it). The blind spot: a leak hidden
//!    by a larger trim in the same window; a longer run (`SOAK_SCRAPES`) shows it.
//!
//! Noise, measured and simulated: the soak's floor moves by ±30 KiB between samples and
//! the exporter (a debug build) still settles by about 0.2 KiB per scrape in the second
//! half of a 1,000-scrape run; on 50 such samples the fitted slope stays well within
//! 0.1 KiB per scrape of the truth. The bound (0.5 KiB per scrape) sits between that
//! settling and the smallest leak that must fail (1 KiB per scrape), and the tests
//! below hold for every seed on that noise. White ±100 KiB jitter is harsher than
//! anything measured; the tests count how often it lands on the wrong side: 1.5 % of
//! flat runs of 50 samples, and 6.5 % of 1 KiB-per-scrape leaks when only 20 samples
//! are taken (hence the soak's 50).
//!
//! **A step is not unlimited.** A single jump larger than `max_step` fails as well: a
//! process that grows by half at once is not flat, even if it does not leak.

#![allow(dead_code)]

use std::fmt;

/// The soak's memory bound: resident memory may grow by at most 512 KiB per 1,000 scrapes
/// (0.5 KiB per scrape) over the judged half. A leak of 1 KiB per scrape (1 MiB per
/// 1,000) crosses it twice over; with the soak's settings real runs fit +50 to +150
/// (docs/reliability.md), and the tests below pin both sides.
pub const RSS_BOUND_KIB_PER_1000: f64 = 512.0;

/// The largest single step of resident memory the soak lets pass, as a share of the
/// resident size at the start of the judged half: an allocator step of a few MB passes,
/// a process that grows by half at once does not.
pub const RSS_MAX_STEP_SHARE: f64 = 0.5;

/// The soak's descriptor bound: at most 4 more open descriptors per 1,000 scrapes over
/// the judged half. One descriptor left behind every 100 scrapes (10 per 1,000) crosses
/// it; a connection opened once more than before is a step, not a slope.
pub const FDS_BOUND_PER_1000: f64 = 4.0;

/// The largest single step of open descriptors the soak lets pass (a few pooled
/// connections more, not one per client).
pub const FDS_MAX_STEP: f64 = 10.0;

/// A line with at most one step, fitted to points `(x, y)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepFit {
    /// Slope `b`, in y per 1,000 x (per 1,000 scrapes).
    pub slope_per_1000: f64,
    /// Index (into the fitted points) of the first point after the step.
    pub step_at: usize,
    /// How many points from `step_at` on were left out of the fit (the step spans them).
    pub skipped: usize,
    /// Height of the step `c` (negative: a drop).
    pub step: f64,
}

/// Plain least-squares slope of `points`, in y per 1,000 x; 0 for fewer than two
/// distinct x.
pub fn least_squares_slope_per_1000(points: &[(f64, f64)]) -> f64 {
    let m = Moments::of(points);
    if m.sxx > 0.0 {
        m.sxy / m.sxx * 1000.0
    } else {
        0.0
    }
}

/// Centred sums of one segment.
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    n: f64,
    mean_x: f64,
    mean_y: f64,
    sxx: f64,
    sxy: f64,
    syy: f64,
}

impl Moments {
    fn of(points: &[(f64, f64)]) -> Moments {
        if points.is_empty() {
            return Moments::default();
        }
        let n = points.len() as f64;
        let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
        let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
        let mut m = Moments {
            n,
            mean_x,
            mean_y,
            ..Moments::default()
        };
        for (x, y) in points {
            let (dx, dy) = (x - mean_x, y - mean_y);
            m.sxx += dx * dx;
            m.sxy += dx * dy;
            m.syy += dy * dy;
        }
        m
    }
}

/// Half width of the floor: every sample becomes the minimum of itself and this many
/// neighbours on each side.
pub const FLOOR_HALF_WIDTH: usize = 2;

/// The floor of `points`: each value replaced by the minimum over `half_width`
/// neighbours on each side (fewer at the ends).
pub fn floor(points: &[(f64, f64)], half_width: usize) -> Vec<(f64, f64)> {
    (0..points.len())
        .map(|i| {
            let from = i.saturating_sub(half_width);
            let to = (i + half_width + 1).min(points.len());
            let low = points[from..to]
                .iter()
                .map(|p| p.1)
                .fold(f64::INFINITY, f64::min);
            (points[i].0, low)
        })
        .collect()
}

/// Fits `y = a + b·x + c·[i ≥ k]` to `points` (sorted by x), trying every split `k` with
/// at least one point on each side, leaving out none or up to `FLOOR_HALF_WIDTH` points
/// at the split (the second segment then starts later: the floor turns a spike next to
/// a step into as many points between the two levels), and keeping the fit with the
/// smallest squared residual (on a tie, the one that leaves out fewer points, then the
/// earlier split). Fewer than three points: the plain slope, no step.
pub fn fit_line_with_step(points: &[(f64, f64)]) -> StepFit {
    let plain = StepFit {
        slope_per_1000: least_squares_slope_per_1000(points),
        step_at: points.len(),
        skipped: 0,
        step: 0.0,
    };
    if points.len() < 3 {
        return plain;
    }
    let mut best: Option<(f64, StepFit)> = None;
    // Fewer points left out first, so that a tie keeps the most points.
    for skipped in 0..=FLOOR_HALF_WIDTH {
        for k in 1..points.len() {
            let second = k + skipped;
            if second >= points.len() {
                continue;
            }
            let (a, b) = (Moments::of(&points[..k]), Moments::of(&points[second..]));
            let sxx = a.sxx + b.sxx;
            let sxy = a.sxy + b.sxy;
            let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
            let sse = a.syy + b.syy - slope * sxy;
            // Intercept of each segment at x = 0; their difference is the step.
            let step = (b.mean_y - slope * b.mean_x) - (a.mean_y - slope * a.mean_x);
            let fit = StepFit {
                slope_per_1000: slope * 1000.0,
                step_at: k,
                skipped,
                step,
            };
            if best.as_ref().is_none_or(|(s, _)| sse < *s) {
                best = Some((sse, fit));
            }
        }
    }
    best.map(|(_, f)| f).unwrap_or(plain)
}

/// The verdict on one quantity sampled along a run.
#[derive(Debug, Clone)]
pub struct Growth {
    /// What was sampled (`"RSS"`, `"open fds"`).
    pub what: &'static str,
    /// Its unit (`"KiB"`, `"fds"`).
    pub unit: &'static str,
    /// Every sample, `(scrapes done, value)`.
    pub samples: Vec<(f64, f64)>,
    /// Index of the first judged sample (the second half).
    pub window_start: usize,
    /// The floor of the judged samples, as fitted.
    pub floor: Vec<(f64, f64)>,
    /// The fit over the floor.
    pub fit: StepFit,
    /// Plain least-squares slope over the raw judged samples, for the record.
    pub plain_slope_per_1000: f64,
    /// Largest allowed slope, per 1,000 scrapes.
    pub bound_per_1000: f64,
    /// Largest allowed single step.
    pub max_step: f64,
}

impl Growth {
    /// Whether the quantity stayed flat: the step within its bound, and the fitted slope
    /// within its bound or its growth not kept (see `kept_per_1000`).
    pub fn holds(&self) -> bool {
        let grows = self.fit.slope_per_1000 > self.bound_per_1000
            && self.kept_per_1000() > self.bound_per_1000 / 2.0;
        !grows && self.fit.step <= self.max_step
    }

    /// The growth the floor kept over the window, per 1,000 scrapes: its last value less
    /// its first, less the fitted step when that is a rise (a drop counts: memory given
    /// back was not leaked). A leak keeps all it grows; an allocator that creeps up and
    /// then trims back keeps nothing.
    pub fn kept_per_1000(&self) -> f64 {
        match (self.floor.first(), self.floor.last()) {
            (Some(first), Some(last)) if last.0 > first.0 => {
                (last.1 - first.1 - self.fit.step.max(0.0)) / (last.0 - first.0) * 1000.0
            }
            _ => 0.0,
        }
    }

    /// The scrape counts of the last sample before the fitted step and the first after.
    fn step_between(&self) -> Option<(f64, f64)> {
        let k = self.fit.step_at;
        let after = k + self.fit.skipped;
        (k > 0 && after < self.floor.len()).then(|| (self.floor[k - 1].0, self.floor[after].0))
    }
}

/// Judges the second half of `samples` (`(scrapes done, value)`, in run order): the
/// line with one free step fitted to their floor must rise by at most `bound_per_1000`
/// per 1,000 scrapes, and its step by at most `max_step`.
pub fn judge(
    what: &'static str,
    unit: &'static str,
    samples: &[(f64, f64)],
    bound_per_1000: f64,
    max_step: f64,
) -> Growth {
    let window_start = samples.len() / 2;
    let mut floor = floor(samples, FLOOR_HALF_WIDTH).split_off(window_start);
    // What the process still holds at the end: each point no higher than any later one.
    for i in (0..floor.len().saturating_sub(1)).rev() {
        floor[i].1 = floor[i].1.min(floor[i + 1].1);
    }
    Growth {
        what,
        unit,
        samples: samples.to_vec(),
        window_start,
        fit: fit_line_with_step(&floor),
        floor,
        plain_slope_per_1000: least_squares_slope_per_1000(&samples[window_start..]),
        bound_per_1000,
        max_step,
    }
}

/// `judge` for resident memory (KiB) with the largest step `RSS_MAX_STEP_SHARE` of the
/// resident size at the start of the judged half.
pub fn judge_rss(samples: &[(f64, f64)], bound_per_1000: f64) -> Growth {
    let level = samples.get(samples.len() / 2).map_or(0.0, |p| p.1);
    judge(
        "RSS",
        "KiB",
        samples,
        bound_per_1000,
        RSS_MAX_STEP_SHARE * level,
    )
}

impl fmt::Display for Growth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} trend over the last {} samples (from scrape {}): fitted slope {:+.1} {} per \
             1,000 scrapes (bound {:.0}), ",
            self.what,
            self.floor.len(),
            self.floor.first().map(|s| s.0).unwrap_or_default(),
            self.fit.slope_per_1000,
            self.unit,
            self.bound_per_1000,
        )?;
        match self.step_between() {
            Some((from, to)) => write!(
                f,
                "step {:+.0} {} between scrapes {from} and {to} (bound {:.0}), ",
                self.fit.step, self.unit, self.max_step
            )?,
            None => write!(f, "no step, ")?,
        }
        write!(
            f,
            "growth kept {:+.1} per 1,000 scrapes (fails above {:.0} with the slope), plain \
             least-squares slope of the raw samples {:+.1}; samples (scrapes, {}, floor \
             after the bar):",
            self.kept_per_1000(),
            self.bound_per_1000 / 2.0,
            self.plain_slope_per_1000,
            self.unit
        )?;
        for (i, (x, y)) in self.samples.iter().enumerate() {
            if i == self.window_start {
                write!(f, " |")?;
            }
            match self.floor.get(i.wrapping_sub(self.window_start)) {
                Some((_, low)) if i >= self.window_start && low != y => {
                    write!(f, " ({x}, {y} → {low})")?
                }
                _ => write!(f, " ({x}, {y})")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic jitter in `[-amplitude, amplitude]` (xorshift, seeded).
    struct Jitter(u64);

    impl Jitter {
        fn next(&mut self, amplitude: f64) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0) * amplitude
        }
    }

    /// `n` samples over `total` scrapes, read after every `total / n` scrapes.
    fn xs(total: usize, n: usize) -> Vec<f64> {
        (1..=n).map(|i| (i * total / n) as f64).collect()
    }

    /// The failing run (issue 20): 39520 KiB after warm-up, a rise to 43572 KiB by scrape
    /// 450, then flat up to 43636 KiB at scrape 1,000; ±`jitter` KiB on every sample.
    fn failing_run(n: usize, seed: u64, jitter: f64) -> Vec<(f64, f64)> {
        let mut j = Jitter(seed);
        xs(1000, n)
            .into_iter()
            .map(|x| {
                let y = if x <= 200.0 {
                    39520.0
                } else if x < 450.0 {
                    39520.0 + (43572.0 - 39520.0) * (x - 200.0) / 250.0
                } else {
                    43572.0 + 64.0 * (x - 450.0) / 550.0
                };
                (x, y + j.next(jitter))
            })
            .collect()
    }

    fn rss(samples: &[(f64, f64)]) -> Growth {
        judge_rss(samples, RSS_BOUND_KIB_PER_1000)
    }

    fn with_leak(samples: &[(f64, f64)], kib_per_scrape: f64) -> Vec<(f64, f64)> {
        samples
            .iter()
            .map(|&(x, y)| (x, y + kib_per_scrape * x))
            .collect()
    }

    fn with_step(samples: &[(f64, f64)], at: f64, kib: f64) -> Vec<(f64, f64)> {
        samples
            .iter()
            .map(|&(x, y)| (x, if x >= at { y + kib } else { y }))
            .collect()
    }

    #[test]
    fn a_line_and_a_step_are_told_apart_exactly() {
        let line: Vec<(f64, f64)> = (0..20)
            .map(|i| (i as f64 * 50.0, 100.0 + i as f64))
            .collect();
        assert!((least_squares_slope_per_1000(&line) - 20.0).abs() < 1e-9);
        let fit = fit_line_with_step(&line);
        assert!((fit.slope_per_1000 - 20.0).abs() < 1e-9, "{fit:?}");
        assert!(fit.step.abs() < 1e-9, "{fit:?}");
        let stepped = with_step(&line, 500.0, 4096.0);
        let fit = fit_line_with_step(&stepped);
        assert!((fit.slope_per_1000 - 20.0).abs() < 1e-9, "{fit:?}");
        assert_eq!(fit.step_at, 10);
        assert!((fit.step - 4096.0).abs() < 1e-6, "{fit:?}");
        // A plain slope is moved by the same step (about 1.5 h / L).
        assert!(least_squares_slope_per_1000(&stepped) > 5000.0);
    }

    /// What the soak's samples look like (measured): a floor that moves by ±30 KiB, and
    /// on about one sample in ten a spike of +750 KiB (a buffer still held when the sample
    /// was read).
    fn realistic(n: usize, seed: u64) -> Vec<(f64, f64)> {
        let mut j = Jitter(seed);
        xs(1000, n)
            .into_iter()
            .map(|x| {
                let spike = if j.next(1.0) > 0.8 { 750.0 } else { 0.0 };
                (x, 32600.0 + j.next(30.0) + spike)
            })
            .collect()
    }

    /// The share of `seeds` for which `verdict` is true.
    fn share(seeds: std::ops::RangeInclusive<u64>, verdict: impl Fn(u64) -> bool) -> f64 {
        let n = seeds.clone().count() as f64;
        seeds.filter(|s| verdict(*s)).count() as f64 / n
    }

    #[test]
    fn the_floor_drops_spikes_and_keeps_steps_and_slopes() {
        let line: Vec<(f64, f64)> = (0..30).map(|i| (i as f64, i as f64 * 10.0)).collect();
        let mut spiky = line.clone();
        spiky[12].1 += 750.0;
        spiky[13].1 += 750.0;
        let low = floor(&spiky, FLOOR_HALF_WIDTH);
        // Past the first two samples, the floor of a rising line is the line two samples
        // earlier (the slope is kept), and no spike is left in it.
        for i in 2..30 {
            assert!(low[i].1 <= line[i].1, "{i}: {low:?}");
            if !(14..=15).contains(&i) {
                assert_eq!(low[i].1, line[i - 2].1, "{i}: {low:?}");
            }
        }
        let stepped = with_step(&line, 20.0, 4096.0);
        let low = floor(&stepped, FLOOR_HALF_WIDTH);
        assert_eq!(low[21].1, stepped[19].1);
        assert_eq!(low[22].1, stepped[20].1);
    }

    #[test]
    fn the_failing_run_passes() {
        // The run of the issue, synthesized with 20 samples and ±100 KiB white jitter
        // (harsher than measured): a plateau after a ramp, in the first half.
        assert!(
            rss(&failing_run(20, 1, 100.0)).holds(),
            "{}",
            rss(&failing_run(20, 1, 100.0))
        );
        let pass20 = share(1..=200, |seed| rss(&failing_run(20, seed, 100.0)).holds());
        let pass50 = share(1..=200, |seed| rss(&failing_run(50, seed, 100.0)).holds());
        assert!(pass20 >= 0.97, "{pass20}");
        assert!(pass50 >= 0.97, "{pass50}");
        // With the noise the soak shows, always.
        for seed in 1..=200 {
            let s: Vec<(f64, f64)> = failing_run(50, seed, 0.0)
                .into_iter()
                .zip(realistic(50, seed))
                .map(|((x, y), (_, noise))| (x, y + noise - 32600.0))
                .collect();
            let g = rss(&s);
            assert!(g.holds(), "seed {seed}: {g}");
        }
    }

    #[test]
    fn the_failing_run_with_a_leak_of_1_kib_per_scrape_fails() {
        let g = rss(&with_leak(&failing_run(20, 1, 100.0), 1.0));
        assert!(!g.holds(), "{g}");
        let fail20 = share(1..=200, |seed| {
            !rss(&with_leak(&failing_run(20, seed, 100.0), 1.0)).holds()
        });
        let fail50 = share(1..=200, |seed| {
            !rss(&with_leak(&failing_run(50, seed, 100.0), 1.0)).holds()
        });
        assert!(fail20 >= 0.9, "{fail20}");
        assert!(fail50 >= 0.99, "{fail50}");
    }

    #[test]
    fn steps_anywhere_pass() {
        // Before the window, at its first point, inside it, at its very end; up, down,
        // small and large; on the soak's noise (spikes included).
        for seed in 1..=20 {
            for at in [
                300.0, 520.0, 540.0, 600.0, 760.0, 780.0, 900.0, 980.0, 1000.0,
            ] {
                for kib in [256.0, 512.0, 4096.0, 8192.0, -4096.0_f64] {
                    let g = rss(&with_step(&realistic(50, seed), at, kib));
                    assert!(g.holds(), "step {kib} at {at}, seed {seed}: {g}");
                }
            }
        }
    }

    #[test]
    fn two_steps_pass_when_one_is_in_the_warm_up() {
        // The ramp, then an allocator step of 4 MB inside the judged half.
        for seed in 1..=100 {
            let s: Vec<(f64, f64)> = with_step(&failing_run(50, 0, 0.0), 820.0, 4096.0)
                .into_iter()
                .zip(realistic(50, seed))
                .map(|((x, y), (_, noise))| (x, y + noise - 32600.0))
                .collect();
            let g = rss(&s);
            assert!(g.holds(), "seed {seed}: {g}");
        }
    }

    #[test]
    fn slow_leaks_fail() {
        // 0.75 and 1 KiB per scrape on the soak's noise, with or without a 4 MB step in
        // the window; 1 KiB per scrape under ±100 KiB white jitter too.
        for leak in [0.75, 1.0] {
            for seed in 1..=200 {
                let base = realistic(50, seed);
                let g = rss(&with_leak(&base, leak));
                assert!(!g.holds(), "{leak} KiB/scrape, seed {seed}: {g}");
                let g = rss(&with_leak(&with_step(&base, 700.0, 4096.0), leak));
                assert!(!g.holds(), "{leak} KiB/scrape and a step, seed {seed}: {g}");
            }
        }
        let caught = share(1..=200, |seed| {
            let mut j = Jitter(seed);
            let s: Vec<(f64, f64)> = xs(1000, 50)
                .into_iter()
                .map(|x| (x, 43572.0 + x + j.next(100.0)))
                .collect();
            !rss(&s).holds()
        });
        assert!(caught >= 0.99, "{caught}");
    }

    #[test]
    fn what_the_exporter_does_passes() {
        // A debug build still settles by about 0.2 KiB per scrape late in a short run.
        for seed in 1..=200 {
            let g = rss(&with_leak(&realistic(50, seed), 0.2));
            assert!(g.holds(), "seed {seed}: {g}");
        }
    }

    /// Resident sizes (KiB) of real soak runs of the exporter (debug build, 1,000
    /// scrapes, a sample every 20): quiet, busy (load 5–6), under a CPU hog (load 15,
    /// where the floor crept up by 330 KiB and was trimmed back below its start), and
    /// one that sits on a level 800 KiB higher for many samples in a row, then stays
    /// there (a buffer held between rounds, depending on timing).
    const REAL_RUNS: [[u32; 50]; 4] = [
        [
            32264, 32296, 32292, 33052, 32300, 32504, 33256, 32484, 32500, 32484, 32532, 32548,
            32548, 32544, 32552, 32544, 32560, 32568, 32572, 32588, 32616, 32556, 33352, 32592,
            32592, 33360, 32724, 32672, 32648, 32640, 32808, 32648, 32648, 32656, 32680, 32716,
            32716, 32724, 32716, 32724, 32716, 32728, 32836, 32836, 32844, 32856, 32736, 32740,
            32740, 33504,
        ],
        [
            32296, 32356, 32464, 33172, 33196, 33208, 33180, 32552, 33348, 33392, 33300, 33236,
            33112, 33784, 33120, 33832, 33904, 33176, 33144, 33140, 33144, 33144, 33136, 33136,
            33844, 33244, 33240, 33240, 33232, 33224, 33224, 33244, 33232, 33232, 33928, 33264,
            33916, 33240, 33268, 33244, 33320, 33312, 33312, 33312, 33312, 33312, 33312, 33952,
            33312, 33312,
        ],
        [
            32468, 32804, 33052, 32968, 33720, 33360, 33208, 33048, 33080, 33088, 33800, 33068,
            33060, 33864, 33492, 33840, 33116, 33168, 33860, 33152, 33164, 33844, 33460, 33896,
            33540, 33952, 33516, 33500, 33500, 34220, 34284, 33500, 33504, 33520, 33544, 34300,
            33744, 33720, 33748, 33796, 33804, 33832, 33832, 34044, 33332, 34048, 33328, 33320,
            34024, 34008,
        ],
        [
            32424, 32428, 32488, 32488, 33268, 32452, 32460, 32464, 33292, 33336, 33300, 32476,
            32476, 32476, 33344, 32480, 32480, 33356, 32484, 33252, 33392, 33364, 33260, 32492,
            33412, 33292, 33392, 33456, 33300, 32740, 33428, 33312, 33460, 33368, 33432, 33412,
            32628, 33328, 33408, 33388, 33264, 33264, 33392, 33452, 33520, 33504, 33264, 33264,
            33504, 33264,
        ],
    ];

    fn real_run(i: usize) -> Vec<(f64, f64)> {
        xs(1000, 50)
            .into_iter()
            .zip(REAL_RUNS[i])
            .map(|(x, y)| (x, f64::from(y)))
            .collect()
    }

    #[test]
    fn real_runs_pass_and_fail_with_a_leak() {
        for i in 0..REAL_RUNS.len() {
            let g = rss(&real_run(i));
            assert!(g.holds(), "run {i}: {g}");
            // Run 2 gave back 500 KiB late in the window, which hides that much growth
            // (memory given back is not counted as leaked): there a leak shows from 1.5
            // KiB per scrape.
            let leaks: &[f64] = if i == 2 { &[1.5, 2.0] } else { &[0.75, 1.0] };
            for &leak in leaks {
                let g = rss(&with_leak(&real_run(i), leak));
                assert!(!g.holds(), "run {i} with {leak} KiB/scrape: {g}");
            }
        }
    }

    fn fds(samples: &[(f64, f64)]) -> Growth {
        judge("open fds", "fds", samples, FDS_BOUND_PER_1000, FDS_MAX_STEP)
    }

    #[test]
    fn descriptors_leaking_fail_and_steps_and_spikes_pass() {
        let base = |f: &dyn Fn(f64, usize) -> f64| -> Vec<(f64, f64)> {
            xs(1000, 50)
                .into_iter()
                .enumerate()
                .map(|(i, x)| (x, 43.0 + f(x, i)))
                .collect()
        };
        // One descriptor left behind every 100 scrapes.
        let g = fds(&base(&|x, _| (x / 100.0).floor()));
        assert!(!g.holds(), "{g}");
        // One every 50 scrapes, from scrape 600 only.
        let g = fds(&base(&|x, _| ((x - 600.0).max(0.0) / 50.0).floor()));
        assert!(!g.holds(), "{g}");
        // Connections open for a while (spikes of 2) and one more kept from scrape 700
        // on; or three more from 900 on: spikes and steps.
        let g = fds(&base(&|x, i| {
            f64::from(u8::from(i % 7 == 3)) * 2.0 + if x >= 700.0 { 1.0 } else { 0.0 }
        }));
        assert!(g.holds(), "{g}");
        let g = fds(&base(&|x, _| if x >= 900.0 { 3.0 } else { 0.0 }));
        assert!(g.holds(), "{g}");
        // A connection per client kept at once is a step over the bound.
        let g = fds(&base(&|x, _| if x >= 800.0 { 20.0 } else { 0.0 }));
        assert!(!g.holds(), "{g}");
    }

    #[test]
    fn a_leak_in_steps_of_pages_fails() {
        // 1 KiB per scrape, the resident size moving a whole 64 KiB at a time.
        let s: Vec<(f64, f64)> = xs(1000, 50)
            .into_iter()
            .map(|x| (x, 40000.0 + (x / 64.0).floor() * 64.0))
            .collect();
        let g = rss(&s);
        assert!(!g.holds(), "{g}");
    }

    #[test]
    fn a_huge_step_fails() {
        let s: Vec<(f64, f64)> = xs(1000, 50)
            .into_iter()
            .map(|x| (x, if x >= 800.0 { 90000.0 } else { 40000.0 }))
            .collect();
        let g = rss(&s);
        assert!(!g.holds(), "{g}");
        assert!(
            g.to_string().contains("step +50000 KiB between scrapes"),
            "{g}"
        );
    }

    #[test]
    fn the_message_shows_samples_and_slope() {
        let g = rss(&with_leak(&failing_run(20, 3, 100.0), 2.0));
        let m = g.to_string();
        assert!(
            m.starts_with("RSS trend over the last 10 samples (from scrape 550)"),
            "{m}"
        );
        assert!(m.contains("fitted slope +"), "{m}");
        assert!(m.contains(" | (550, "), "{m}");
        assert!(m.contains("(1000, "), "{m}");
    }

    #[test]
    fn few_samples_do_not_panic() {
        assert!(judge("x", "u", &[], 1.0, 1.0).holds());
        assert!(judge("x", "u", &[(1.0, 1.0)], 1.0, 1.0).holds());
        assert!(judge("x", "u", &[(1.0, 1.0), (2.0, 1.0), (3.0, 9.0)], 1.0, 10.0).holds());
    }
}
