"""Shifted-beta-geometric (sBG) retention model: fit a cohort's survival, project and value it.

Fader & Hardie (2007), "How to Project Customer Retention", Journal of
Interactive Marketing 21(1), 76-90. Each customer cancels at the end of every
period with her own constant probability θ, and θ ~ Beta(α, β) across the
cohort. For periods t = 1, 2, ...:

    P(T = t) = B(α + 1, β + t - 1) / B(α, β)     share of the cohort lost at t
    S(t)     = B(α, β + t) / B(α, β)             share still paying at t, S(0) = 1
    r_t      = (β + t - 1) / (α + β + t - 1)     retention rate S(t) / S(t - 1)

α and β are fitted by maximum likelihood on the numbers still paying at
periods 0..n: the customers lost at each t contribute P(T = t), those still
paying at n contribute S(n) (right-censored), as in the paper.
The discounted expected residual lifetime is that of Fader & Hardie (2010),
"Customer-Base Valuation in a Contractual Setting: The Perils of Ignoring
Heterogeneity", Marketing Science 29(1), 85-93.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

# Search box for log α and log β: wide enough for any real cohort, narrow
# enough that B(α, β) stays finite. A bound on its edge means "not identified".
LOG_BOUNDS = (float(np.log(1e-6)), float(np.log(1e6)))


def _log_likelihood(log_params: np.ndarray, lost: np.ndarray, survivors: float) -> float:
    """The sBG log-likelihood at (log α, log β)."""
    alpha, beta = np.exp(log_params)
    t = np.arange(1, len(lost) + 1)
    base = special.betaln(alpha, beta)
    log_p = special.betaln(alpha + 1, beta + t - 1) - base
    log_s = special.betaln(alpha, beta + len(lost)) - base
    return float(lost @ log_p + survivors * log_s)


def _score(log_params: np.ndarray, lost: np.ndarray, survivors: float) -> np.ndarray:
    """Gradient of the log-likelihood in (log α, log β), from d/dx log B = digammas."""
    alpha, beta = np.exp(log_params)
    n, t, psi = len(lost), np.arange(1, len(lost) + 1), special.digamma
    base_a, base_b = psi(alpha) - psi(alpha + beta), psi(beta) - psi(alpha + beta)
    p_a = psi(alpha + 1) - psi(alpha + beta + t) - base_a
    p_b = psi(beta + t - 1) - psi(alpha + beta + t) - base_b
    s_a = psi(alpha) - psi(alpha + beta + n) - base_a
    s_b = psi(beta + n) - psi(alpha + beta + n) - base_b
    return np.array([alpha * (lost @ p_a + survivors * s_a), beta * (lost @ p_b + survivors * s_b)])


def _hyp2f1_series(b: float, c: float, z: float, rtol: float = 1e-15) -> float:
    """₂F₁(1, b; c; z) = Σ (b)_m / (c)_m z^m for 0 < b < c, 0 < z < 1, summed in chunks.

    Term ratios z (b + m) / (c + m) are below z, so the tail is at most next term / (1 - z).
    """
    total, log_next, m, chunk = 0.0, 0.0, 0, 4096
    while m < 10**8:
        k = np.arange(m, m + chunk, dtype=float)
        log_ratio = np.log(z * (b + k) / (c + k))
        log_terms = log_next + np.concatenate([[0.0], np.cumsum(log_ratio[:-1])])
        total += float(np.exp(log_terms).sum())
        log_next, m = log_terms[-1] + log_ratio[-1], m + chunk
        if np.exp(log_next) / (1 - z) <= rtol * total:
            return total
    raise ValueError(f"the series for 2F1(1, {b}; {c}; {z}) did not converge; is the discount rate tiny?")


def _as_periods(t, minimum: int) -> np.ndarray:
    """Periods as a float array (0-d for a scalar), checked finite and >= minimum."""
    values = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values < minimum):
        raise ValueError(f"periods must be finite numbers >= {minimum}; got {t!r}")
    return values


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.9 for a 90% interval); got {level!r}")


def _scalar_or_array(values: np.ndarray):
    return float(values) if np.ndim(values) == 0 else values


@dataclass(frozen=True)
class SBGFit:
    """A fitted sBG model.

    alpha, beta: the Beta(α, β) distribution of per-period churn probability θ
    (mean churn α / (α + β); the smaller α + β, the more customers differ).
    log_likelihood: at the maximum. n_periods: periods fitted (n).
    churned, survivors: the counts fitted (lost at 1..n, still paying at n).
    """

    alpha: float
    beta: float
    log_likelihood: float
    n_periods: int
    churned: tuple[float, ...] = field(repr=False)
    survivors: float = field(repr=False)

    def survival(self, t):
        """S(t) = B(α, β + t) / B(α, β), the share still paying at period t >= 0 (vectorised)."""
        t = _as_periods(t, 0)
        log_s = special.betaln(self.alpha, self.beta + t) - special.betaln(self.alpha, self.beta)
        return _scalar_or_array(np.exp(log_s))

    def retention_rate(self, t):
        """r_t = (β + t - 1) / (α + β + t - 1) = S(t) / S(t - 1), for t >= 1 (vectorised)."""
        t = _as_periods(t, 1)
        return _scalar_or_array((self.beta + t - 1) / (self.alpha + self.beta + t - 1))

    def churn_probability(self, t):
        """P(T = t), the share of the whole cohort lost at t >= 1 (of those left: 1 - r_t)."""
        t = _as_periods(t, 1)
        log_p = special.betaln(self.alpha + 1, self.beta + t - 1) - special.betaln(self.alpha, self.beta)
        return _scalar_or_array(np.exp(log_p))

    def expected_residual_lifetime(self, discount: float, *, renewals: int = 0, method: str = "hyp2f1") -> float:
        """Discounted expected residual lifetime, E[DERL] of Fader & Hardie (2010).

        Their convention: the customer has made `renewals` renewals (0: just acquired,
        has paid at t = 0) and stands just before the next renewal decision; DERL counts
        the payments still to come, the next one undiscounted, and equals
        (β + n - 1) / (α + β + n - 1) · ₂F₁(1, β + n; α + β + n; 1 / (1 + d)), n - 1 = renewals;
        for renewals = 0 that is Σ_{t>=1} S(t) / (1 + d)^(t - 1).
        Args: discount: rate per period (> 0); method: "hyp2f1" (closed form; the series
        where scipy gives no finite value) or "series" (the convergent power series).
        Returns: the expected discounted number of payments to come (× margin = value).
        """
        if not (np.isfinite(discount) and discount > 0):
            raise ValueError(f"discount must be a positive rate per period (e.g. 0.1); got {discount!r}")
        if not (isinstance(renewals, (int, np.integer)) and renewals >= 0):
            raise ValueError(f"renewals must be a whole number >= 0; got {renewals!r}")
        if method not in ("hyp2f1", "series"):
            raise ValueError(f"method must be 'hyp2f1' or 'series'; got {method!r}")
        b, c, z = self.beta + renewals, self.alpha + self.beta + renewals, 1 / (1 + discount)
        value = special.hyp2f1(1.0, b + 1, c + 1, z) if method == "hyp2f1" else np.nan
        if not np.isfinite(value):  # scipy's hyp2f1 gives NaN for large b, c
            value = _hyp2f1_series(b + 1, c + 1, z)
        return float(b / c * value)

    def expected_lifetime(self, discount: float) -> float:
        """E[DEL] of Fader & Hardie (2010): Σ_{t>=0} S(t) / (1 + d)^t, counting the payment at t = 0 too
        (= 1 + DERL / (1 + d) = ₂F₁(1, β; α + β; 1 / (1 + d))); × margin = a new customer's CLV."""
        return 1 + self.expected_residual_lifetime(discount) / (1 + discount)

    def interval(self, level: float = 0.9) -> dict[str, tuple[float, float]]:
        """Profile-likelihood intervals for α and β.

        Each bound is where the log-likelihood, maximised over the other parameter,
        falls χ²₁(level) / 2 below its maximum (Wilks' theorem). Profile rather than
        Wald intervals: they follow the likelihood's skew and need no normal shape.
        Returns: {"alpha": (lower, upper), "beta": (lower, upper)}; a bound the data
        do not pin down within (1e-6, 1e6) is given as 0.0 or inf.
        """
        _check_level(level)
        drop = stats.chi2.ppf(level, df=1) / 2
        return {
            name: (self._profile_bound(index, drop, -1), self._profile_bound(index, drop, +1))
            for index, name in enumerate(("alpha", "beta"))
        }

    def projected_survival(self, t, level: float = 0.9, *, draws: int = 4000, seed: int = 0) -> pd.DataFrame:
        """S(t) with a band for parameter uncertainty, by simulation from the fit.

        (log α, log β) are drawn from their asymptotic normal (mean the estimate,
        covariance the inverse observed information), seeded, so the band is
        deterministic. It covers the expected curve, not a finite cohort's noise.
        Returns: columns period, survival, lower, upper (central `level` band).
        """
        _check_level(level)
        periods = np.atleast_1d(_as_periods(t, 0))
        pairs = self.parameter_draws(draws, seed=seed)
        a, b = pairs[:, :1], pairs[:, 1:]
        curves = np.exp(special.betaln(a, b + periods) - special.betaln(a, b))
        lower, upper = np.quantile(curves, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return pd.DataFrame({"period": periods, "survival": self.survival(periods), "lower": lower, "upper": upper})

    def parameter_draws(self, draws: int = 1000, *, seed: int = 0) -> np.ndarray:
        """(α, β) pairs drawn from the fit's asymptotic normal in log space (seeded), shape (draws, 2).

        The draws projected_survival uses, for callers that propagate the
        parameter uncertainty into other quantities (an MRR forecast).
        """
        normal = np.random.default_rng(seed).standard_normal((draws, 2))
        return np.exp(np.log([self.alpha, self.beta]) + normal @ np.linalg.cholesky(self._covariance()).T)

    def _data(self) -> tuple[np.ndarray, float]:
        return np.asarray(self.churned, dtype=float), self.survivors

    def _covariance(self) -> np.ndarray:
        """Inverse observed information of (log α, log β): central differences of the score."""
        x, step, data = np.log([self.alpha, self.beta]), 1e-5, self._data()
        hessian = np.column_stack([(_score(x + step * e, *data) - _score(x - step * e, *data)) / (2 * step)
                                   for e in np.eye(2)])
        information = -(hessian + hessian.T) / 2
        if np.any(np.linalg.eigvalsh(information) <= 0):
            raise ValueError("the observed information is not positive definite: the fit is on the edge of the "
                             "parameter space (too little churn or too few periods to pin down α and β)")
        return np.linalg.inv(information)

    def _profile_log_likelihood(self, index: int, log_value: float) -> float:
        """Log-likelihood with parameter `index` fixed at exp(log_value), maximised over the other."""
        def negative(other: float) -> float:
            pair = [log_value, other] if index == 0 else [other, log_value]
            return -_log_likelihood(np.array(pair), *self._data())
        return -optimize.minimize_scalar(negative, bounds=LOG_BOUNDS, method="bounded", options={"xatol": 1e-10}).fun

    def _profile_bound(self, index: int, drop: float, direction: int) -> float:
        """Walk out from the estimate (doubling steps in log space), then bisect for the crossing."""
        estimate = float(np.log(self.alpha if index == 0 else self.beta))
        def excess(x: float) -> float:  # > 0 inside the interval
            return self._profile_log_likelihood(index, x) - (self.log_likelihood - drop)
        inside, step = estimate, 0.05
        while True:
            outside = float(np.clip(estimate + direction * step, *LOG_BOUNDS))
            if excess(outside) < 0:
                return float(np.exp(optimize.brentq(excess, inside, outside, xtol=1e-12)))
            if outside in LOG_BOUNDS:
                return 0.0 if direction < 0 else float("inf")
            inside, step = outside, step * 2


def _cohort_counts(alive, periods: int | None, size: float | None) -> tuple[np.ndarray, float]:
    """Validated (lost at 1..n, still paying at n) from numbers still paying at 0..n."""
    values = np.asarray(alive, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"alive must be one cohort's numbers by period (1-D); got shape {values.shape}")
    if periods is not None:
        if not (isinstance(periods, (int, np.integer)) and 2 <= periods < len(values)):
            raise ValueError(f"periods must be a whole number from 2 to {len(values) - 1} "
                             f"(the last period to fit); got {periods!r}")
        values = values[: periods + 1]
    if len(values) < 3:
        raise ValueError(f"alive needs periods 0..n with n >= 2 (one period of churn cannot separate α from β); "
                         f"got {len(values)} value(s)")
    if not np.all(np.isfinite(values)):
        bad = np.flatnonzero(~np.isfinite(values)).tolist()
        raise ValueError(f"alive has missing or infinite values at period(s) {bad}")
    if np.any(values < 0):
        raise ValueError(f"alive is negative at period(s) {np.flatnonzero(values < 0).tolist()}; it counts customers")
    if values[0] <= 0:
        raise ValueError(f"alive[0] is the cohort's size (or 1.0 for shares) and must be positive; got {values[0]:g}")
    rises = np.flatnonzero(np.diff(values) > 0)
    if rises.size:
        t = int(rises[0])
        raise ValueError(f"alive must be non-increasing (a cohort only loses customers); it rises from "
                         f"{values[t]:g} at period {t} to {values[t + 1]:g} at period {t + 1}")
    if size is None:
        if not np.allclose(values, np.round(values)):
            raise ValueError("alive has fractional values, so it looks like shares or percentages; pass size= "
                             "(the number of customers the cohort started with), which sets the intervals' width")
    else:
        if not (np.isfinite(size) and size > 0):
            raise ValueError(f"size must be the positive number of customers in the cohort; got {size!r}")
        values = values / values[0] * size
    lost = -np.diff(values)
    if not np.any(lost > 0):
        raise ValueError("no customer was lost in periods 1..n, so α and β cannot be estimated")
    return lost, float(values[-1])


def _starting_points(lost: np.ndarray, survivors: float) -> list[np.ndarray]:
    """Starts for the optimiser: the moment match on periods 1-2, plus a spread of α + β."""
    alive = lost.sum() + survivors - np.concatenate([[0.0], np.cumsum(lost)])
    churn_1 = float(np.clip(lost[0] / alive[0], 0.01, 0.99))  # α / (α + β)
    retain_2 = alive[2] / alive[1] if alive[1] > 0 else 0.5  # (β + 1) / (α + β + 1)
    totals = [0.5, 2.0, 10.0]
    if 1 - churn_1 < retain_2 < 1:  # retention rising, as heterogeneity implies: solve for α + β
        totals.insert(0, (1 - retain_2) / (retain_2 - (1 - churn_1)))
    return [np.clip(np.log([churn_1 * s, (1 - churn_1) * s]), *LOG_BOUNDS) for s in totals]


def fit_sbg(alive: Sequence[float] | np.ndarray, *, periods: int | None = None, size: float | None = None) -> SBGFit:
    """Fit α and β by maximum likelihood to a cohort's numbers still paying at periods 0..n.

    Args: alive: customers still paying at periods 0, 1, ..., n (alive[0] = cohort
    size); shares or percentages need `size`. periods: fit only periods 0..periods
    (e.g. 7 to hold later years out); default all. size: the cohort's customer
    count when `alive` is shares; it scales the likelihood, so the intervals.
    Returns: SBGFit. Raises ValueError on input a cohort cannot have.
    """
    lost, survivors = _cohort_counts(alive, periods, size)
    total = lost.sum() + survivors

    def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
        # per customer, so the optimiser's tolerances mean the same for any cohort size
        return -_log_likelihood(x, lost, survivors) / total, -_score(x, lost, survivors) / total

    best = min(
        (optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=[LOG_BOUNDS] * 2,
                           options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000})
         for start in _starting_points(lost, survivors)),
        key=lambda result: result.fun,
    )
    alpha, beta = np.exp(best.x)
    return SBGFit(float(alpha), float(beta), _log_likelihood(best.x, lost, survivors), len(lost),
                  tuple(float(v) for v in lost), survivors)


def fit_sbg_frame(frame: pd.DataFrame, *, by: str | Sequence[str] = "cohort", period: str = "period",
                  alive: str = "alive", periods: int | None = None, level: float = 0.9) -> pd.DataFrame:
    """Fit one sBG model per cohort/segment of a long frame (one row per group and period).

    Args: by: the column(s) naming a group; period: whole periods 0..n, once each
    per group; alive: customers still paying (counts); periods, level: as in
    fit_sbg and SBGFit.interval.
    Returns: one row per group: the `by` columns, alpha, beta, log_likelihood,
    n_periods, alpha_lower, alpha_upper, beta_lower, beta_upper.
    """
    keys = [by] if isinstance(by, str) else list(by)
    missing = [column for column in [*keys, period, alive] if column not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {missing}; it has {list(frame.columns)}")
    rows = []
    for key, group in frame.groupby(keys, sort=True):
        name = dict(zip(keys, key))
        group = group.sort_values(period)
        if not np.array_equal(group[period].to_numpy(), np.arange(len(group))):
            raise ValueError(f"group {name}: {period} must run 0, 1, ..., n once each; got {group[period].tolist()}")
        try:
            fit = fit_sbg(group[alive].to_numpy(), periods=periods)
        except ValueError as error:
            raise ValueError(f"group {name}: {error}") from None
        bounds = {f"{p}_{side}": value for p, pair in fit.interval(level).items()
                  for side, value in zip(("lower", "upper"), pair)}
        rows.append({**name, "alpha": fit.alpha, "beta": fit.beta, "log_likelihood": fit.log_likelihood,
                     "n_periods": fit.n_periods, **bounds})
    columns = [*keys, "alpha", "beta", "log_likelihood", "n_periods",
               "alpha_lower", "alpha_upper", "beta_lower", "beta_upper"]
    return pd.DataFrame(rows, columns=columns)
