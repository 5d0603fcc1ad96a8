-- Events, distinct active customers and mean adoption per day and event
-- type, between $start and $end (inclusive; open when null).
-- The active_customers placeholder is the distinct count, or nothing: at 20M
-- events the distinct count per day and type takes about ten times the rest.
with events as (
    select
        cast("timestamp" as date) as day,
        event_type,
        customer_id,
        feature_adoption_score
    from raw.usage_events
    where ($start is null or "timestamp" >= cast($start as timestamp))
      and ($end is null or "timestamp" < cast($end as timestamp) + interval 1 day)
),

final as (
    select
        day,
        event_type,
        count(*) as events,
        {active_customers}
        avg(feature_adoption_score) as mean_adoption_score
    from events
    group by day, event_type
)

select * from final
order by day, event_type
