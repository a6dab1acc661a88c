#pragma once

// Latency under load: the mean time a window waits for a free replica.
//
// A stage member with c replicas, each taking S ms per window (mean) with a
// squared coefficient of variation cs² = (sd/S)², fed λ windows/s whose
// inter-arrival times have a squared coefficient of variation ca², is a
// GI/G/c queue with utilization ρ = λ·S / (1000·c). Its mean wait in the
// queue is approximated by Allen and Cunneen's formula (A. O. Allen,
// "Probability, Statistics, and Queueing Theory", 2nd ed., 1990, §6.3;
// H. C. Tijms, "A First Course in Stochastic Models", 2003, §9.1):
//
//   Wq ≈ C(c, ρ) · S / (c·(1−ρ)) · (ca² + cs²) / 2
//
// where C(c, ρ) is Erlang's C formula, the probability that an arrival
// waits in an M/M/c queue; the first two factors are M/M/c's exact mean
// wait, the last scales it for the arrivals' and service's variability (it
// is exact for M/M/c, and for c = 1 it is Kingman's heavy-traffic formula).
// C is computed from Erlang's B by its recursion, which stays in [0, 1] for
// any c (no factorials): B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)) with
// a = c·ρ, then C = B / (1 − ρ·(1 − B)).
//
// Where it stops holding:
// - near saturation (ρ → 1) the wait grows as 1/(1−ρ) and the formula's
//   relative error grows with it; at ρ ≥ 1 the queue has no steady state
//   and the wait is infinite (the stage is overloaded);
// - bursty arrivals (ca² ≫ 1) or heavy-tailed service times, for which
//   two moments do not describe the queue;
// - hare's queues are bounded and back-pressured: a full queue blocks or
//   drops instead of waiting, so measured waits near saturation are capped
//   while windows are lost instead;
// - a stage's departures feed the next stage; their variability is not
//   propagated (the next stage sees the workload's ca², not the departure
//   process's, as Whitt's QNA would compute): a smoothing upstream stage
//   makes the prediction pessimistic, a burst-making one optimistic.

namespace hare::partition {

// Erlang's C: the probability that an arrival waits, M/M/c with c servers at
// utilization ρ per server (0 <= ρ < 1); 1 for ρ >= 1.
double erlang_c(int servers, double utilization);

// The Allen–Cunneen mean wait in the queue, ms: c servers, λ windows/s,
// mean service S ms, the arrivals' and service's squared coefficients of
// variation. 0 at λ = 0; infinite at ρ >= 1.
double allen_cunneen_wait_ms(int servers, double arrivals_per_s, double service_ms, double arrival_cv2,
                             double service_cv2);

// The q-quantile (0 < q < 1) of the wait in the queue, ms, from its mean
// `mean_wait_ms` (Allen–Cunneen's) and the probability of waiting at all
// `wait_probability` (Erlang's C): a window waits with that probability, and
// then for a time taken as exponential with mean mean_wait / P(wait). Exact
// for M/M/c, whose conditional wait is exponential with rate cμ − λ
// (Tijms 2003, §5.1); for GI/G/c the exponential tail is the heavy-traffic
// approximation (Kingman's for c = 1). 0 when the quantile falls among the
// windows that do not wait (P(wait) <= 1 − q); infinite when the mean is.
double wait_quantile_ms(double mean_wait_ms, double wait_probability, double q);

// The squared coefficient of variation of the gaps between windows of N
// periodic streams of one period with independent uniform phases: the
// gaps are the spacings of N uniform points on a circle, each
// T·Beta(1, N−1), so ca² = Var/mean² = (N−1)/(N+1) (0 for one stream,
// towards 1, Poisson's, for many).
double periodic_streams_arrival_cv2(int streams);

}  // namespace hare::partition
