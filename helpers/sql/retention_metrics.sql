-- Monthly retention metrics from the roll-forward (the movements
-- placeholder takes mrr_movements.sql, which selects the months) and the
-- customer months (mrr_customer_months.sql) for the trailing-12-month
-- versions, per segment (the movements' segments; 'all' when unsegmented). Ratios are doubles; a ratio whose denominator is zero is null.
--   logo_churn_rate = churned customers / customers active the month before
--   grr = (starting + contraction + churn) / starting
--   nrr = (starting + expansion + contraction + churn) / starting
--   grr_ttm, nrr_ttm: the same over the customers active 12 months earlier,
--     each customer's current MRR capped at its MRR then for grr_ttm
--   quick_ratio = (new + reactivation + expansion) / -(contraction + churn)
--   arpa = ending MRR / active customers, rounded half up to the cent (exact)
with movements as (
    {movements}
),

customer_months as (
    {customer_months}
),

-- Customers active in a base month and what they pay 12 months later (0 if
-- they are not active then, whatever happened in between).
twelve_months_on as (
    select
        cast(base.month + interval 12 month as date) as month,
        base.segment,
        sum(base.mrr) as base_mrr,
        sum(least(coalesce(later.mrr, 0), base.mrr)) as retained_gross_mrr,
        sum(coalesce(later.mrr, 0)) as retained_net_mrr
    from customer_months as base
    left join customer_months as later
        on later.customer_id = base.customer_id
        and later.month = cast(base.month + interval 12 month as date)
    group by
        base.month,
        base.segment
),

final as (
    select
        movements.month,
        movements.segment,
        cast(movements.churned_customers as double)
            / nullif(movements.starting_customers, 0) as logo_churn_rate,
        cast(movements.starting_mrr + movements.contraction + movements.churn as double)
            / nullif(cast(movements.starting_mrr as double), 0) as grr,
        cast(movements.starting_mrr + movements.expansion + movements.contraction + movements.churn as double)
            / nullif(cast(movements.starting_mrr as double), 0) as nrr,
        cast(twelve_months_on.retained_gross_mrr as double)
            / nullif(cast(twelve_months_on.base_mrr as double), 0) as grr_ttm,
        cast(twelve_months_on.retained_net_mrr as double)
            / nullif(cast(twelve_months_on.base_mrr as double), 0) as nrr_ttm,
        cast(movements.new + movements.reactivation + movements.expansion as double)
            / nullif(cast(-(movements.contraction + movements.churn) as double), 0) as quick_ratio,
        -- Half up to the cent in integer arithmetic: round() of a double
        -- rounds an exact half cent (2.01 / 2) down on DuckDB and up on Spark.
        cast(
            cast(
                (cast(movements.ending_mrr * 100 as bigint) * 2 + movements.active_customers)
                    // nullif(movements.active_customers * 2, 0)
                as decimal(18, 0)
            ) * 0.01
            as decimal(18, 2)
        ) as arpa
    from movements
    left join twelve_months_on
        on twelve_months_on.month = movements.month
        and twelve_months_on.segment = movements.segment
)

select * from final
order by
    segment,
    month
