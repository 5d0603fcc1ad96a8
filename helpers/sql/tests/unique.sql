-- Rows whose {column} value appears more than once in {schema}.{table}.
with source as (
    select
        {column} as checked_value,
        {row_expr} as source_row
    from {schema}.{table}
),

duplicated as (
    select checked_value
    from source
    where checked_value is not null
    group by checked_value
    having count(*) > 1
),

final as (
    select
        cast(source.checked_value as varchar) as key,
        source.source_row,
        cast(source.checked_value as varchar) as value
    from source
    inner join duplicated using (checked_value)
)

select * from final
