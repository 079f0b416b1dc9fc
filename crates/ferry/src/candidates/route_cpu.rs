//! CPU is measured per process, not per route: each route's CPU cost is estimated by
//! regressing the process's CPU rate on its routes' request rates over the window,
//!
//! ```text
//! cpu_cores(t) ≈ idle_cores + Σ_route cpu_seconds_per_request(route) × rps(route, t)
//! ```
//!
//! by non-negative least squares over the `query_range` samples, and judged: how much of the
//! CPU's variation the fit explains (R²), and whether the traffic varied enough, and
//! independently enough, to tell the routes apart.

use serde::Serialize;

use super::nnls;

/// A route's rate must vary by at least this coefficient of variation over the window for
/// its cost to be told from the constant idle baseline.
const MIN_VARIATION: f64 = 0.10;
/// A route whose rate is explained this well by the other routes' rates (R² of one on the
/// others) cannot be told apart from them.
const MAX_COLLINEARITY: f64 = 0.90;

/// One route's request rate over the window, on the same time grid as the CPU.
pub struct RouteRates {
    pub route: String,
    pub rates: Vec<f64>,
}

/// The fit, as reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CpuFit {
    /// Time points used.
    pub samples: usize,
    /// Share of the CPU's variance over the window the fit explains.
    pub r_squared: f64,
    /// The intercept: CPU the process uses with no requests.
    pub idle_cores: f64,
    /// Whether every fitted route's cost could be told apart.
    pub separable: bool,
    /// In plain words: how good the fit is and what could not be told apart.
    pub note: String,
    /// Per fitted route, in the order given.
    pub routes: Vec<RouteEstimate>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RouteEstimate {
    pub route: String,
    pub cpu_seconds_per_request: f64,
    /// Coefficient of variation of its rate over the window.
    pub rate_variation: f64,
    /// R² of its rate regressed on the other routes' rates.
    pub collinearity: f64,
    /// Whether this route's estimate stands on its own.
    pub identifiable: bool,
}

/// Fits `cpu` (cores, per time point) on the routes' rates; `None` with fewer points than
/// unknowns plus two.
pub fn fit(cpu: &[f64], routes: &[RouteRates]) -> Option<CpuFit> {
    let samples = cpu.len();
    if samples < routes.len() + 3 || routes.iter().any(|route| route.rates.len() != samples) {
        return None;
    }
    let mut columns: Vec<Vec<f64>> = routes.iter().map(|route| route.rates.clone()).collect();
    columns.push(vec![1.0; samples]);
    let solution = nnls::solve(&columns, cpu).ok()?;
    let mean_cpu = mean(cpu);
    let total: f64 = cpu.iter().map(|value| (value - mean_cpu).powi(2)).sum();
    let r_squared = if total > 0.0 {
        (1.0 - solution.residual_norm.powi(2) / total).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let estimates: Vec<RouteEstimate> = routes
        .iter()
        .enumerate()
        .map(|(index, route)| {
            let rate_variation = variation(&route.rates);
            let others: Vec<&[f64]> = routes
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .map(|(_, other)| other.rates.as_slice())
                .collect();
            let collinearity = explained_by(&route.rates, &others);
            RouteEstimate {
                route: route.route.clone(),
                cpu_seconds_per_request: solution.x[index],
                rate_variation,
                collinearity,
                identifiable: rate_variation >= MIN_VARIATION && collinearity < MAX_COLLINEARITY,
            }
        })
        .collect();
    let separable = estimates.iter().all(|estimate| estimate.identifiable);
    let note = describe(r_squared, &estimates);
    Some(CpuFit {
        samples,
        r_squared,
        idle_cores: solution.x[routes.len()],
        separable,
        note,
        routes: estimates,
    })
}

fn describe(r_squared: f64, estimates: &[RouteEstimate]) -> String {
    let mut parts = vec![format!(
        "the fit explains {:.0}% of the CPU's variation",
        r_squared * 100.0
    )];
    for estimate in estimates {
        if estimate.rate_variation < MIN_VARIATION {
            parts.push(format!(
                "{}'s traffic hardly varied ({:.0}% variation), so its CPU cannot be told from the idle baseline",
                estimate.route,
                estimate.rate_variation * 100.0
            ));
        } else if estimate.collinearity >= MAX_COLLINEARITY {
            parts.push(format!(
                "{}'s traffic moved with the other routes' (R² {:.2}), so the traffic did not vary enough to tell them apart",
                estimate.route, estimate.collinearity
            ));
        }
    }
    if r_squared < 0.5 {
        parts.push("treat the per-route CPU as rough".into());
    }
    let mut text = parts.join("; ");
    text.push('.');
    // Sentence case for the report.
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Standard deviation over mean (0 for a zero mean).
fn variation(values: &[f64]) -> f64 {
    let m = mean(values);
    if m <= 0.0 {
        return 0.0;
    }
    let variance = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64;
    variance.sqrt() / m
}

/// R² of `y` regressed, with an intercept, on `xs` (ordinary least squares on centred data):
/// how well the other routes' traffic predicts this one's.
fn explained_by(y: &[f64], xs: &[&[f64]]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let centre = |values: &[f64]| {
        let m = mean(values);
        values.iter().map(|v| v - m).collect::<Vec<f64>>()
    };
    let yc = centre(y);
    let total: f64 = yc.iter().map(|v| v * v).sum();
    if total <= 0.0 {
        return 1.0;
    }
    let columns: Vec<Vec<f64>> = xs.iter().map(|x| centre(x)).collect();
    // Both signs: a route can move against another. Fit with ±columns under NNLS, which is
    // ordinary least squares.
    let signed: Vec<Vec<f64>> = columns
        .iter()
        .flat_map(|column| [column.clone(), column.iter().map(|v| -v).collect()])
        .collect();
    match nnls::solve(&signed, &yc) {
        Ok(solution) => (1.0 - solution.residual_norm.powi(2) / total).clamp(0.0, 1.0),
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(route: &str, values: &[f64]) -> RouteRates {
        RouteRates {
            route: route.into(),
            rates: values.to_vec(),
        }
    }

    #[test]
    fn phases_of_different_mixes_recover_each_routes_cost() {
        // Four phases, three points each: process-only, users-only, both, idle.
        let process = [
            100.0, 100.0, 100.0, 0.0, 0.0, 0.0, 50.0, 50.0, 50.0, 0.0, 0.0, 0.0,
        ];
        let users = [
            0.0, 0.0, 0.0, 400.0, 400.0, 400.0, 200.0, 200.0, 200.0, 0.0, 0.0, 0.0,
        ];
        // 2 ms per batch, 0.1 ms per read, 0.02 cores idle.
        let cpu: Vec<f64> = process
            .iter()
            .zip(&users)
            .map(|(p, u)| 0.02 + 0.002 * p + 0.0001 * u)
            .collect();
        let fit = fit(&cpu, &[rates("process", &process), rates("users", &users)]).unwrap();
        assert!((fit.routes[0].cpu_seconds_per_request - 0.002).abs() < 1e-9);
        assert!((fit.routes[1].cpu_seconds_per_request - 0.0001).abs() < 1e-9);
        assert!((fit.idle_cores - 0.02).abs() < 1e-9);
        assert!(fit.r_squared > 0.999 && fit.separable, "{fit:?}");
    }

    #[test]
    fn routes_that_move_together_are_reported_inseparable() {
        // Always a 1:4 mix: the split between the two is anyone's guess.
        let process = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0];
        let users: Vec<f64> = process.iter().map(|p| 4.0 * p).collect();
        let cpu: Vec<f64> = process.iter().map(|p| 0.003 * p).collect();
        let fit = fit(&cpu, &[rates("process", &process), rates("users", &users)]).unwrap();
        assert!(!fit.separable);
        assert!(fit.note.contains("did not vary enough"), "{}", fit.note);
    }

    #[test]
    fn a_constant_rate_is_confounded_with_idle() {
        let process = [100.0; 8];
        let cpu = [0.3; 8];
        let fit = fit(&cpu, &[rates("process", &process)]).unwrap();
        assert!(!fit.separable);
        assert!(fit.note.contains("hardly varied"), "{}", fit.note);
    }

    #[test]
    fn too_few_points_give_no_fit() {
        assert!(fit(&[0.1, 0.2], &[rates("a", &[1.0, 2.0])]).is_none());
    }
}
