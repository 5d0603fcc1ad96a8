-- One customer's events in [$window_start, $as_of).
with events as (
    select "timestamp"
    from raw.usage_events
    where customer_id = $customer_id
),

final as (
    select count(*) as events
    from events
    where "timestamp" >= cast($window_start as timestamp)
      and "timestamp" < cast($as_of as timestamp)
)

select * from final
