-- Rows of {schema}.{table} dated ({column}) after the last day of the data ($data_end).
with source as (
    select
        {key} as key,
        {row_expr} as source_row,
        {column} as checked_value
    from {schema}.{table}
),

final as (
    select
        cast(key as varchar) as key,
        source_row,
        cast(checked_value as varchar) || ' vs data end ' || cast(cast($data_end as date) as varchar) as value
    from source
    where cast(checked_value as timestamp) >= cast($data_end as date) + interval 1 day
)

select * from final
