-- One segment for everyone: the unsegmented results are the 'all' segment.
with final as (
    select
        customer_id,
        'all' as segment
    from raw.customers
)

select * from final
