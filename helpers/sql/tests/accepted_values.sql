-- Rows of {schema}.{table} whose {column} is not one of $allowed.
with source as (
    select
        {key} as key,
        {row_expr} as source_row,
        {column} as checked_value
    from {schema}.{table}
),

allowed as (
    select unnest($allowed::varchar[]) as allowed_value
),

final as (
    select
        cast(key as varchar) as key,
        source_row,
        cast(checked_value as varchar) as value
    from source
    where checked_value is not null
      and cast(checked_value as varchar) not in (select allowed_value from allowed)
)

select * from final
