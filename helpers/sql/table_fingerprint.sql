-- Order-independent fingerprint of {schema}.{table}: row count, xor and sum
-- of the row hashes. Equal content gives equal numbers whatever the row order.
with hashed as (
    select hash(t) as row_hash
    from {schema}.{table} as t
),

final as (
    select
        count(*) as row_count,
        coalesce(bit_xor(row_hash), 0) as xor_hash,
        coalesce(sum(cast(row_hash as hugeint)), 0) as sum_hash
    from hashed
)

select * from final
