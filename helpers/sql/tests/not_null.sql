-- Rows of {schema}.{table} with no {column}.
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
        'null' as value
    from source
    where checked_value is null
)

select * from final
