-- A customer's events, newest first; only those at or after $since when given.
with events as (
    select
        event_id,
        customer_id,
        "timestamp",
        event_type,
        feature_adoption_score
    from raw.usage_events
    where customer_id = $customer_id
),

final as (
    select *
    from events
    where $since is null or "timestamp" >= cast($since as timestamp)
)

select * from final
order by "timestamp" desc, event_id desc
