-- The rows of feature_snapshot.sql at every date of $as_of_dates, in one
-- pass over the events instead of one pass per date (the training set of 36
-- or more monthly snapshots). Same features, same label, same rule: a row
-- (customer, as_of) reads only data strictly before its as_of; the tests
-- compare every value with single snapshots.
--
-- How one pass is possible: every event feature looks back at most 90 days,
-- so each event joins only the few dates whose 90-day window holds it (a range
-- join, about three dates per event for monthly dates). The one unbounded
-- feature, the last event ever, is a running maximum: each event joins the one
-- date it is first seen at (the interval from the previous date), and a window
-- carries the latest forward over the dates.
with as_of_dates as (
    select distinct cast(d as date) as as_of
    from (select unnest($as_of_dates) as d) as bound
),

dates as (
    select
        as_of,
        cast(as_of as timestamp) as as_of_ts,
        cast(as_of - 90 as timestamp) as window_start_ts,
        -- Events before the first date belong to it: ingest refuses dates before 1900.
        coalesce(lag(cast(as_of as timestamp)) over (order by as_of), cast('1800-01-01' as timestamp))
            as previous_ts
    from as_of_dates
),

params as (
    select cast($horizon_days as integer) as horizon_days
),

known_subscriptions as (
    select
        s.customer_id,
        d.as_of,
        s.plan_tier,
        s.start_date,
        s.mrr,
        s.billing_interval,
        case when s.end_date < d.as_of then s.end_date end as known_end_date
    from raw.subscriptions as s
    inner join dates as d on s.start_date < d.as_of
),

subscription_state as (
    select
        k.customer_id,
        k.as_of,
        sum(case when k.known_end_date is null then k.mrr else 0 end) as mrr_current,
        sum(case
                when k.start_date <= k.as_of - 30
                 and (k.known_end_date is null or k.known_end_date > k.as_of - 30)
                then k.mrr else 0 end) as mrr_30d_ago,
        sum(case
                when k.start_date <= k.as_of - 90
                 and (k.known_end_date is null or k.known_end_date > k.as_of - 90)
                then k.mrr else 0 end) as mrr_90d_ago,
        arg_max(k.plan_tier, k.start_date) as plan_tier,
        max(case when k.known_end_date is null and k.mrr > 0 and k.billing_interval = 'year' then 1 else 0 end)
            as is_annual,
        max(case when k.known_end_date is null and k.mrr > 0 and k.billing_interval = 'year' then k.start_date end)
            as annual_start,
        max(case when k.known_end_date is null and k.mrr > 0 then k.start_date end) as current_start,
        count(*) as subscriptions_so_far,
        max(case when k.known_end_date is not null and k.mrr > 0 then 1 else 0 end) as has_past_paid_end
    from known_subscriptions as k
    group by k.customer_id, k.as_of
),

population as (
    select
        c.customer_id,
        st.as_of,
        c.industry,
        c.signup_date,
        st.plan_tier,
        st.mrr_current,
        st.mrr_30d_ago,
        st.mrr_90d_ago,
        st.subscriptions_so_far,
        st.has_past_paid_end,
        st.is_annual,
        coalesce(st.annual_start, st.current_start) as renewal_anchor
    from raw.customers as c
    inner join subscription_state as st using (customer_id)
    where st.mrr_current > 0
),

renewal as (
    select
        pop.customer_id,
        pop.as_of,
        date_diff('month', pop.renewal_anchor, pop.as_of)
            - case when extract(day from pop.as_of) < extract(day from pop.renewal_anchor) then 1 else 0 end
            as whole_months,
        case
            when extract(day from pop.as_of) >= extract(day from pop.renewal_anchor)
            then extract(day from pop.as_of) - extract(day from pop.renewal_anchor)
            else extract(day from pop.as_of) - extract(day from pop.renewal_anchor) + 30.4375
        end as days_past
    from population as pop
),

window_days as (
    -- Each day of each date's 90-day window (1 = the day before): events join it on
    -- their day, an equality DuckDB hashes, where a range condition loops over every pair.
    select
        d.as_of,
        cast(d.as_of - offsets.days_ago as date) as event_day,
        offsets.days_ago
    from dates as d
    cross join (select cast(unnest(range(1, 91)) as integer) as days_ago) as offsets
),

first_seen_days as (
    -- Each day up to the last date, with the first date after it (the date that first sees its events).
    select
        cast(days.day as date) as event_day,
        d.as_of
    from (
        select unnest(range(
            cast((select min(cast("timestamp" as date)) from raw.usage_events) as timestamp),
            (select max(as_of_ts) from dates),
            interval 1 day
        )) as day
    ) as days
    inner join dates as d
        on cast(days.day as timestamp) >= d.previous_ts
       and cast(days.day as timestamp) < d.as_of_ts
),

windowed_events as (
    select
        e.customer_id,
        w.as_of,
        w.days_ago,
        e.event_type,
        e.feature_adoption_score
    from raw.usage_events as e
    inner join window_days as w on cast(e."timestamp" as date) = w.event_day
),

event_features as (
    select
        customer_id,
        as_of,
        count(*) filter (where days_ago <= 7) as events_7d,
        count(*) filter (where days_ago <= 30) as events_30d,
        count(*) filter (where days_ago > 30 and days_ago <= 60) as events_prev_30d,
        count(*) as events_90d,
        avg(feature_adoption_score) filter (where days_ago <= 30) as adoption_30d,
        avg(feature_adoption_score) filter (where days_ago > 30) as adoption_prev_60d,
        -- Distinct types as a bit set: one bit per type of the vocabulary, cheaper than a distinct count.
        cast(bit_count(bit_or(cast(1 as bigint) << (list_position($event_types, event_type) - 1))
                       filter (where days_ago <= 30)) as bigint) as distinct_event_types_30d,
        count(*) filter (
            where days_ago <= 30 and list_contains($retention_signal_events, event_type)
        ) as retention_signal_events_30d,
        count(*) filter (where event_type = $invite_event) as invites_90d,
        count(*) filter (where days_ago <= 30 and event_type = $limit_event) as feature_limit_hits_30d,
        count(*) filter (where event_type = $trial_event) as premium_trials_90d
    from windowed_events
    group by customer_id, as_of
),

first_seen_events as (
    -- Each event's latest time, at the first date that sees it.
    select
        e.customer_id,
        d.as_of,
        max(e."timestamp") as latest_in_interval
    from raw.usage_events as e
    inner join first_seen_days as d on cast(e."timestamp" as date) = d.event_day
    group by e.customer_id, d.as_of
),

running_last_event as (
    select
        customer_id,
        as_of,
        is_population,
        -- Peers (same as_of) are inside the default frame: a date sees its own interval.
        max(latest_in_interval) over (partition by customer_id order by as_of) as last_event_at
    from (
        select customer_id, as_of, latest_in_interval, false as is_population from first_seen_events
        union all
        select customer_id, as_of, null as latest_in_interval, true as is_population from population
    ) as keyed
),

last_events as (
    select customer_id, as_of, last_event_at
    from running_last_event
    where is_population
),

tickets as (
    select
        t.customer_id,
        d.as_of,
        date_diff('day', cast(t.created_at as date), d.as_of) as days_ago,
        t.priority,
        t.resolved_at is null or t.resolved_at >= d.as_of_ts as open_at_as_of
    from raw.support_tickets as t
    inner join dates as d on t.created_at < d.as_of_ts
),

ticket_features as (
    select
        customer_id,
        as_of,
        count(*) filter (where days_ago <= 30) as tickets_30d,
        count(*) filter (where days_ago <= 90) as tickets_90d,
        count(*) filter (where days_ago <= 90 and list_contains($urgent_priorities, priority)) as urgent_tickets_90d,
        count(*) filter (where open_at_as_of) as open_tickets
    from tickets
    group by customer_id, as_of
),

churn_events as (
    {churn_events}
),

labels as (
    select distinct
        ce.customer_id,
        d.as_of,
        1 as churned
    from churn_events as ce
    inner join dates as d
        on ce.churn_date >= d.as_of
       and ce.churn_date < d.as_of + (select horizon_days from params)
),

final as (
    select
        {feature_columns}
    from population as pop
    left join event_features as ef using (customer_id, as_of)
    left join last_events as le using (customer_id, as_of)
    left join ticket_features as tf using (customer_id, as_of)
    left join labels using (customer_id, as_of)
    left join renewal as rn using (customer_id, as_of)
)

select * from final
order by as_of, customer_id
