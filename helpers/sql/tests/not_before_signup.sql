-- Rows of {schema}.{table} dated ({column}) before their customer's signup_date.
with source as (
    select
        {key} as key,
        {row_expr} as source_row,
        customer_id,
        {column} as checked_value
    from {schema}.{table}
),

customers as (
    select
        customer_id,
        signup_date
    from {schema}.customers
),

final as (
    select
        cast(source.key as varchar) as key,
        source.source_row,
        cast(source.checked_value as varchar) || ' vs signup_date ' || cast(customers.signup_date as varchar) as value
    from source
    inner join customers using (customer_id)
    where cast(source.checked_value as timestamp) < cast(customers.signup_date as timestamp)
)

select * from final
