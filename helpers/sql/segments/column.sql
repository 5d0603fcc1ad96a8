-- Each customer's segment: the value of one raw.customers column, as text.
-- The column placeholder takes a name checked against the table catalog
-- (helpers.analytics.segments); a missing value becomes '(none)'.
with customers as (
    select
        customer_id,
        cast({column} as varchar) as segment_value
    from raw.customers
),

final as (
    select
        customer_id,
        coalesce(segment_value, '(none)') as segment
    from customers
)

select * from final
