-- Rows of {schema}.{table} whose {column} lies outside [$minimum, $maximum]
-- (a null bound is open).
with source as (
    select
        {key} as key,
        {row_expr} as source_row,
        cast({column} as double) as checked_value
    from {schema}.{table}
),

final as (
    select
        cast(key as varchar) as key,
        source_row,
        cast(checked_value as varchar) as value
    from source
    where checked_value is not null
      and (
          isnan(checked_value)
          or checked_value < coalesce(cast($minimum as double), '-inf'::double)
          or checked_value > coalesce(cast($maximum as double), 'inf'::double)
      )
)

select * from final
