//! Non-negative least squares: minimise ‖A x − b‖ subject to x ≥ 0, by Lawson and Hanson's
//! active-set method (*Solving Least Squares Problems*, 1974, chapter 23).
//!
//! Written here rather than taken from the `nnls` crate: that crate documents a `panic!` on
//! a round-off path and brings ndarray, ndarray-stats and rand for problems that, here, have
//! a handful of columns (one per route, plus the idle baseline) and a few hundred rows.
//! Columns are scaled to unit length before solving so that request rates in the thousands
//! and a constant column of ones are equally well conditioned.

use anyhow::{Result, bail};

/// The solution and the residual norm ‖A x − b‖.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub x: Vec<f64>,
    pub residual_norm: f64,
}

/// Solves for `columns` (each a column of A, all of `b.len()` rows).
pub fn solve(columns: &[Vec<f64>], b: &[f64]) -> Result<Fit> {
    check_input(columns, b)?;
    let norms: Vec<f64> = columns.iter().map(|column| norm(column)).collect();
    let scaled = unit_columns(columns, &norms);
    let x = active_set(&scaled, b, &norms);
    let residual_norm = norm(&residual(&scaled, b, &x));
    let x = x
        .iter()
        .zip(&norms)
        .map(|(value, n)| if *n > 0.0 { value / n } else { 0.0 })
        .collect();
    Ok(Fit { x, residual_norm })
}

/// Refuses a problem with no column or no row, columns of another length than `b`, or a
/// value that is not finite.
fn check_input(columns: &[Vec<f64>], b: &[f64]) -> Result<()> {
    let rows = b.len();
    if columns.is_empty() || rows == 0 {
        bail!("a least-squares fit needs at least one column and one row");
    }
    if let Some(bad) = columns.iter().position(|column| column.len() != rows) {
        bail!("column {bad} has {} rows, b has {rows}", columns[bad].len());
    }
    if columns
        .iter()
        .flatten()
        .chain(b)
        .any(|value| !value.is_finite())
    {
        bail!("the data to fit holds a NaN or an infinity");
    }
    Ok(())
}

/// Each column divided by its norm; a zero column stays zero and can never enter the
/// passive set.
fn unit_columns(columns: &[Vec<f64>], norms: &[f64]) -> Vec<Vec<f64>> {
    columns
        .iter()
        .zip(norms)
        .map(|(column, n)| {
            if *n > 0.0 {
                column.iter().map(|value| value / n).collect()
            } else {
                column.clone()
            }
        })
        .collect()
}

/// The active-set iteration on the unit `columns`: the column that would most reduce the
/// residual enters the passive set, until none would (or a bound on the steps is reached).
/// `norms` are the columns' norms before scaling: a zero one never enters.
fn active_set(columns: &[Vec<f64>], b: &[f64], norms: &[f64]) -> Vec<f64> {
    let n = columns.len();
    let tolerance = 1e-10 * norm(b).max(1.0);
    let mut x = vec![0.0; n];
    let mut passive = vec![false; n];
    // Columns found linearly dependent on the passive set: never tried again.
    let mut excluded = vec![false; n];
    for _ in 0..3 * n + 1 {
        let gradient = dual(columns, b, &x);
        let entering = (0..n)
            .filter(|&j| !passive[j] && !excluded[j] && norms[j] > 0.0)
            .max_by(|&i, &j| gradient[i].total_cmp(&gradient[j]));
        let Some(t) = entering.filter(|&t| gradient[t] > tolerance) else {
            break;
        };
        passive[t] = true;
        if !settle_passive(columns, b, tolerance, &mut x, &mut passive) {
            passive[t] = false;
            excluded[t] = true;
        }
    }
    x
}

/// The inner loop: moves `x` towards the unconstrained solution on the passive set, dropping
/// the coefficients that reach zero, until every passive coefficient is positive (or none is
/// left). False when the passive columns turn out linearly dependent.
fn settle_passive(
    columns: &[Vec<f64>],
    b: &[f64],
    tolerance: f64,
    x: &mut Vec<f64>,
    passive: &mut [bool],
) -> bool {
    let n = columns.len();
    loop {
        let Some(z) = least_squares(columns, b, passive) else {
            return false;
        };
        if (0..n).filter(|&j| passive[j]).all(|j| z[j] > 0.0) {
            *x = z;
            return true;
        }
        step_towards(x, &z, passive, tolerance);
        if !passive.iter().any(|p| *p) {
            return true;
        }
    }
}

/// Moves the passive coefficients of `x` towards `z` as far as keeps them all non-negative;
/// those that reach zero (within `tolerance`) leave the passive set.
fn step_towards(x: &mut [f64], z: &[f64], passive: &mut [bool], tolerance: f64) {
    let n = x.len();
    let alpha = (0..n)
        .filter(|&j| passive[j] && z[j] <= 0.0)
        .map(|j| x[j] / (x[j] - z[j]))
        .fold(f64::INFINITY, f64::min);
    for j in 0..n {
        if passive[j] {
            x[j] += alpha * (z[j] - x[j]);
            if x[j] <= tolerance {
                x[j] = 0.0;
                passive[j] = false;
            }
        }
    }
}

/// The Euclidean norm.
fn norm(values: &[f64]) -> f64 {
    values.iter().map(|value| value * value).sum::<f64>().sqrt()
}

/// b − A x.
fn residual(columns: &[Vec<f64>], b: &[f64], x: &[f64]) -> Vec<f64> {
    let mut r = b.to_vec();
    for (column, coefficient) in columns.iter().zip(x) {
        if *coefficient != 0.0 {
            for (ri, ci) in r.iter_mut().zip(column) {
                *ri -= coefficient * ci;
            }
        }
    }
    r
}

/// Aᵀ(b − A x): how much each column would still reduce the residual.
fn dual(columns: &[Vec<f64>], b: &[f64], x: &[f64]) -> Vec<f64> {
    let r = residual(columns, b, x);
    columns
        .iter()
        .map(|column| column.iter().zip(&r).map(|(c, ri)| c * ri).sum())
        .collect()
}

/// The unconstrained least-squares solution on the passive columns (zero elsewhere), by the
/// normal equations and Gaussian elimination with partial pivoting; `None` when the passive
/// columns are linearly dependent.
fn least_squares(columns: &[Vec<f64>], b: &[f64], passive: &[bool]) -> Option<Vec<f64>> {
    let set: Vec<usize> = (0..columns.len()).filter(|&j| passive[j]).collect();
    let k = set.len();
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
    // Augmented matrix [AᵀA | Aᵀb].
    let mut m: Vec<Vec<f64>> = set
        .iter()
        .map(|&i| {
            let mut row: Vec<f64> = set.iter().map(|&j| dot(&columns[i], &columns[j])).collect();
            row.push(dot(&columns[i], b));
            row
        })
        .collect();
    for pivot in 0..k {
        let best = (pivot..k).max_by(|&i, &j| m[i][pivot].abs().total_cmp(&m[j][pivot].abs()))?;
        // Unit columns: a pivot this small means a column is (nearly) a combination of others.
        if m[best][pivot].abs() < 1e-9 {
            return None;
        }
        m.swap(pivot, best);
        let (upper, lower) = m.split_at_mut(pivot + 1);
        let pivot_row = &upper[pivot];
        for row in lower.iter_mut() {
            let factor = row[pivot] / pivot_row[pivot];
            for (cell, above) in row[pivot..].iter_mut().zip(&pivot_row[pivot..]) {
                *cell -= factor * above;
            }
        }
    }
    let mut solution = vec![0.0; k];
    for row in (0..k).rev() {
        let known: f64 = (row + 1..k).map(|col| m[row][col] * solution[col]).sum();
        solution[row] = (m[row][k] - known) / m[row][row];
    }
    let mut z = vec![0.0; columns.len()];
    for (index, &j) in set.iter().enumerate() {
        z[j] = solution[index];
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * (1.0 + b.abs())
    }

    #[test]
    fn an_exact_nonnegative_system_is_recovered() {
        // b = 2·a1 + 0.5·a2 exactly.
        let a1 = vec![1.0, 0.0, 1.0, 2.0];
        let a2 = vec![0.0, 1.0, 1.0, 4.0];
        let b: Vec<f64> = a1.iter().zip(&a2).map(|(x, y)| 2.0 * x + 0.5 * y).collect();
        let fit = solve(&[a1, a2], &b).unwrap();
        assert!(close(fit.x[0], 2.0) && close(fit.x[1], 0.5), "{fit:?}");
        assert!(fit.residual_norm < 1e-9);
    }

    #[test]
    fn a_negative_least_squares_coefficient_is_clamped_to_zero() {
        // Columns e1, e2 and b = (1, -1): unconstrained x = (1, -1); NNLS x = (1, 0),
        // residual |-1| = 1 (worked by hand: the second column can only make it worse).
        let fit = solve(&[vec![1.0, 0.0], vec![0.0, 1.0]], &[1.0, -1.0]).unwrap();
        assert_eq!(fit.x, vec![1.0, 0.0]);
        assert!(close(fit.residual_norm, 1.0));
    }

    #[test]
    fn the_hand_computed_overdetermined_fit() {
        // A = [[1,0],[0,1],[1,1]], b = (1,2,2). Normal equations [[2,1],[1,2]] x = (3,4):
        // x = (2/3, 5/3), both positive, so NNLS equals OLS. Residual (1/3, 1/3, -1/3).
        let fit = solve(
            &[vec![1.0, 0.0, 1.0], vec![0.0, 1.0, 1.0]],
            &[1.0, 2.0, 2.0],
        )
        .unwrap();
        assert!(
            close(fit.x[0], 2.0 / 3.0) && close(fit.x[1], 5.0 / 3.0),
            "{fit:?}"
        );
        assert!(close(fit.residual_norm, (1.0f64 / 3.0).sqrt()));
    }

    #[test]
    fn the_constraint_binds_in_the_hand_computed_case() {
        // A = [[1,1],[1,2],[1,3]], b = (3,2,1): OLS is x = (4, -1). With x2 ≥ 0 the best is
        // x2 = 0, x1 = mean(b) = 2, residual (1, 0, -1), norm √2.
        let fit = solve(&[vec![1.0; 3], vec![1.0, 2.0, 3.0]], &[3.0, 2.0, 1.0]).unwrap();
        assert!(close(fit.x[0], 2.0) && fit.x[1] == 0.0, "{fit:?}");
        assert!(close(fit.residual_norm, 2f64.sqrt()));
    }

    #[test]
    fn duplicate_and_zero_columns_do_not_break_it() {
        let a = vec![1.0, 2.0, 3.0];
        let b = vec![2.0, 4.0, 6.0];
        let fit = solve(&[a.clone(), a, vec![0.0; 3]], &b).unwrap();
        assert!(close(fit.x[0] + fit.x[1], 2.0), "{fit:?}");
        assert_eq!(fit.x[2], 0.0);
        assert!(fit.residual_norm < 1e-9);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(solve(&[], &[1.0]).is_err());
        assert!(solve(&[vec![1.0]], &[1.0, 2.0]).is_err());
        assert!(solve(&[vec![f64::NAN]], &[1.0]).is_err());
    }
}
