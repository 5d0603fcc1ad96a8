-- Rows of {schema}.{table} where {column} is not after {earlier_column}
-- ({comparison} is '>' or '>=': the rule that must hold).
with source as (
    select
        {key} as key,
        {row_expr} as source_row,
        {earlier_column} as earlier_value,
        {column} as checked_value
    from {schema}.{table}
),

final as (
    select
        cast(key as varchar) as key,
        source_row,
        cast(checked_value as varchar) || ' vs {earlier_column} ' || cast(earlier_value as varchar) as value
    from source
    where checked_value is not null
      and earlier_value is not null
      and not (checked_value {comparison} earlier_value)
)

select * from final
