-- Reference floor of the benchmark: the event features of
-- helpers/sql/feature_snapshot.sql (CTE event_features) in one hand-written
-- GROUP BY over raw.usage_events, nothing else (no population, subscriptions,
-- tickets or labels). One row per customer with an event before $as_of.
--
-- The snapshot's windows are whole days before as_of ("days_ago <= N" means
-- [as_of - N days, as_of)); here they are compared on the timestamp against
-- day boundaries bound from Python ($since_7d = as_of - 7 days, ...), which
-- is the same set of rows without a date cast per event.
--
-- Distinct event types are counted as one "seen in the window" flag per type
-- of the vocabulary, summed: the distinct_types_30d placeholder is filled by
-- bench/reference.py with one max(case ...) per EventType, each type bound as
-- $event_type_<i>. count(distinct event_type) filter (...) gives the same
-- number, but DuckDB plans a distinct aggregate as a second hash aggregate
-- over (customer_id, event_type) of every event, about half the query's time.
with events as (
    select
        customer_id,
        "timestamp",
        event_type,
        feature_adoption_score
    from raw.usage_events
    where "timestamp" < $as_of_ts
),

final as (
    select
        customer_id,
        count(*) filter (where "timestamp" >= $since_7d) as events_7d,
        count(*) filter (where "timestamp" >= $since_30d) as events_30d,
        count(*) filter (where "timestamp" >= $since_60d and "timestamp" < $since_30d) as events_prev_30d,
        count(*) filter (where "timestamp" >= $since_90d) as events_90d,
        max("timestamp") as last_event_at,
        avg(feature_adoption_score) filter (where "timestamp" >= $since_30d) as adoption_30d,
        avg(feature_adoption_score) filter (
            where "timestamp" >= $since_90d and "timestamp" < $since_30d
        ) as adoption_prev_60d,
        {distinct_types_30d} as distinct_event_types_30d,
        count(*) filter (
            where "timestamp" >= $since_30d and list_contains($retention_signal_events, event_type)
        ) as retention_signal_events_30d,
        count(*) filter (where "timestamp" >= $since_90d and event_type = $invite_event) as invites_90d,
        count(*) filter (where "timestamp" >= $since_30d and event_type = $limit_event) as feature_limit_hits_30d,
        count(*) filter (where "timestamp" >= $since_90d and event_type = $trial_event) as premium_trials_90d
    from events
    group by customer_id
)

select * from final
