-- The feature and label columns of a snapshot row: one definition for
-- feature_snapshot.sql (one date) and feature_snapshots_stacked.sql (many).
-- Reads the aliases pop (population, with as_of), rn (renewal), ef (event
-- features), le (last event), tf (ticket features) and labels.
pop.customer_id,
pop.as_of,
pop.plan_tier,
pop.industry,
cast(date_diff('day', pop.signup_date, pop.as_of) as bigint) as tenure_days,
cast(pop.mrr_current as double) as mrr_current,
cast(pop.mrr_current - pop.mrr_30d_ago as double) as mrr_change_30d,
cast(pop.mrr_current - pop.mrr_90d_ago as double) as mrr_change_90d,
pop.subscriptions_so_far,
pop.has_past_paid_end as reactivated_before,
pop.is_annual,
-- Months to the next renewal: 0 = renews today; an annual plan counts to its
-- next anniversary, a monthly one to its next monthly renewal day.
cast(case
    when rn.days_past = 0 and (pop.is_annual = 0 or rn.whole_months % 12 = 0) then 0.0
    when pop.is_annual = 1 then 12 - (rn.whole_months % 12) - cast(rn.days_past as double) / 30.4375
    else 1 - cast(rn.days_past as double) / 30.4375
end as double) as months_to_renewal,
coalesce(ef.events_7d, 0) as events_7d,
coalesce(ef.events_30d, 0) as events_30d,
coalesce(ef.events_prev_30d, 0) as events_prev_30d,
coalesce(ef.events_90d, 0) as events_90d,
-- A double before dividing: Spark divides decimals (1.0) into rounded decimals.
cast(coalesce(ef.events_30d, 0) + 1 as double) / (coalesce(ef.events_prev_30d, 0) + 1) as events_trend,
cast(date_diff(
    'day',
    coalesce(cast(le.last_event_at as date), pop.signup_date),
    pop.as_of
) as bigint) as days_since_last_event,
coalesce(ef.adoption_30d, 0.0) as adoption_30d,
coalesce(ef.adoption_30d, 0.0) - coalesce(ef.adoption_prev_60d, ef.adoption_30d, 0.0) as adoption_trend,
coalesce(ef.distinct_event_types_30d, 0) as distinct_event_types_30d,
coalesce(ef.retention_signal_events_30d, 0) as retention_signal_events_30d,
coalesce(ef.invites_90d, 0) as invites_90d,
coalesce(ef.feature_limit_hits_30d, 0) as feature_limit_hits_30d,
coalesce(ef.premium_trials_90d, 0) as premium_trials_90d,
coalesce(tf.tickets_30d, 0) as tickets_30d,
coalesce(tf.tickets_90d, 0) as tickets_90d,
coalesce(tf.urgent_tickets_90d, 0) as urgent_tickets_90d,
coalesce(tf.open_tickets, 0) as open_tickets,
coalesce(labels.churned, 0) as churned
