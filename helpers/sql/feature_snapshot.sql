-- Point-in-time features of every customer paying on the day before
-- $as_of, and the label: did it churn in [$as_of, $as_of + $horizon_days)?
--
-- Features read only rows dated strictly before $as_of. A subscription's
-- end_date on or after $as_of is the future, so it is read as "ongoing";
-- customers.mrr / churn_date / plan_tier describe the data end and are
-- never used. Changing any row at or after $as_of changes no feature.
-- Event types and priorities are bound from helpers.domain.
with params as (
    select
        cast($as_of as date) as as_of,
        cast($as_of as timestamp) as as_of_ts,
        cast($horizon_days as integer) as horizon_days
),

known_subscriptions as (
    select
        s.customer_id,
        s.plan_tier,
        s.start_date,
        s.mrr,
        s.billing_interval,
        case when s.end_date < p.as_of then s.end_date end as known_end_date
    from raw.subscriptions as s, params as p
    where s.start_date < p.as_of
),

subscription_state as (
    select
        k.customer_id,
        sum(case when k.known_end_date is null then k.mrr else 0 end) as mrr_current,
        sum(case
                when k.start_date <= p.as_of - 30
                 and (k.known_end_date is null or k.known_end_date > p.as_of - 30)
                then k.mrr else 0 end) as mrr_30d_ago,
        sum(case
                when k.start_date <= p.as_of - 90
                 and (k.known_end_date is null or k.known_end_date > p.as_of - 90)
                then k.mrr else 0 end) as mrr_90d_ago,
        arg_max(k.plan_tier, k.start_date) as plan_tier,
        -- The latest paying subscription decides the billing rhythm: an annual
        -- plan can only stop at an anniversary of its start.
        max(case when k.known_end_date is null and k.mrr > 0 and k.billing_interval = 'year' then 1 else 0 end)
            as is_annual,
        max(case when k.known_end_date is null and k.mrr > 0 and k.billing_interval = 'year' then k.start_date end)
            as annual_start,
        max(case when k.known_end_date is null and k.mrr > 0 then k.start_date end) as current_start,
        count(*) as subscriptions_so_far,
        -- A paid period that ended before as_of means the customer came back.
        max(case when k.known_end_date is not null and k.mrr > 0 then 1 else 0 end) as has_past_paid_end
    from known_subscriptions as k, params as p
    group by k.customer_id
),

population as (
    select
        c.customer_id,
        p.as_of,
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
    cross join params as p
    inner join subscription_state as st using (customer_id)
    where st.mrr_current > 0
),

renewal as (
    -- Whole months since the plan's start (a month counts once its day is reached),
    -- and the days past the last monthly anniversary (approximate at month ends).
    select
        pop.customer_id,
        date_diff('month', pop.renewal_anchor, p.as_of)
            - case when extract(day from p.as_of) < extract(day from pop.renewal_anchor) then 1 else 0 end
            as whole_months,
        case
            when extract(day from p.as_of) >= extract(day from pop.renewal_anchor)
            then extract(day from p.as_of) - extract(day from pop.renewal_anchor)
            else extract(day from p.as_of) - extract(day from pop.renewal_anchor) + 30.4375
        end as days_past
    from population as pop, params as p
),

events as (
    select
        e.customer_id,
        -- Whole days before as_of: 1 = the day before. "Last N days" is
        -- days_ago <= N, i.e. [as_of - N days, as_of), as in the repositories.
        -- date_diff, not date - date: on Spark that difference is an interval.
        date_diff('day', cast(e."timestamp" as date), p.as_of) as days_ago,
        e."timestamp",
        e.event_type,
        e.feature_adoption_score
    from raw.usage_events as e, params as p
    where e."timestamp" < p.as_of_ts
),

event_aggregates as (
    select
        customer_id,
        count(*) filter (where days_ago <= 7) as events_7d,
        count(*) filter (where days_ago <= 30) as events_30d,
        count(*) filter (where days_ago > 30 and days_ago <= 60) as events_prev_30d,
        count(*) filter (where days_ago <= 90) as events_90d,
        max("timestamp") as last_event_at,
        avg(feature_adoption_score) filter (where days_ago <= 30) as adoption_30d,
        avg(feature_adoption_score) filter (where days_ago > 30 and days_ago <= 90) as adoption_prev_60d,
        count(*) filter (
            where days_ago <= 30 and list_contains($retention_signal_events, event_type)
        ) as retention_signal_events_30d,
        count(*) filter (where days_ago <= 90 and event_type = $invite_event) as invites_90d,
        count(*) filter (where days_ago <= 30 and event_type = $limit_event) as feature_limit_hits_30d,
        count(*) filter (where days_ago <= 90 and event_type = $trial_event) as premium_trials_90d
    from events
    group by customer_id
),

-- Apart from the other event features: a distinct count inside the main
-- aggregate made DuckDB hash every event by type (half the query at 20M
-- events), and Spark expand every event row for it; reading only the last
-- 30 days here halves the snapshot's time.
recent_event_types as (
    select
        e.customer_id,
        count(distinct e.event_type) as distinct_event_types_30d
    from raw.usage_events as e, params as p
    where e."timestamp" >= cast(p.as_of - 30 as timestamp)
      and e."timestamp" < p.as_of_ts
    group by e.customer_id
),

-- Every customer with an event before as_of has a row in event_aggregates, so
-- the left join keeps the recent types of all of them.
event_features as (
    select
        ea.*,
        rt.distinct_event_types_30d
    from event_aggregates as ea
    left join recent_event_types as rt using (customer_id)
),

last_events as (
    select customer_id, last_event_at
    from event_features
),

tickets as (
    select
        t.customer_id,
        date_diff('day', cast(t.created_at as date), p.as_of) as days_ago,
        t.priority,
        -- A resolution on or after as_of is the future: the ticket is open.
        t.resolved_at is null or t.resolved_at >= p.as_of_ts as open_at_as_of
    from raw.support_tickets as t, params as p
    where t.created_at < p.as_of_ts
),

ticket_features as (
    select
        customer_id,
        count(*) filter (where days_ago <= 30) as tickets_30d,
        count(*) filter (where days_ago <= 90) as tickets_90d,
        count(*) filter (where days_ago <= 90 and list_contains($urgent_priorities, priority)) as urgent_tickets_90d,
        count(*) filter (where open_at_as_of) as open_tickets
    from tickets
    group by customer_id
),

churn_events as (
    {churn_events}
),

labels as (
    select distinct
        ce.customer_id,
        1 as churned
    from churn_events as ce, params as p
    where ce.churn_date >= p.as_of
      and ce.churn_date < p.as_of + p.horizon_days
),

final as (
    select
        {feature_columns}
    from population as pop
    left join event_features as ef using (customer_id)
    left join last_events as le using (customer_id)
    left join ticket_features as tf using (customer_id)
    left join labels using (customer_id)
    left join renewal as rn using (customer_id)
)

select * from final
order by customer_id
