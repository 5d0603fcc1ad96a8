-- Every date on which a customer stopped paying: the end_date of a paid
-- subscription (mrr > 0) that no other paid subscription of the customer
-- covers. A customer can churn several times (after reactivations).
with paid as (
    select
        customer_id,
        start_date,
        end_date
    from raw.subscriptions
    where mrr > 0
),

ends as (
    select distinct
        customer_id,
        end_date as churn_date
    from paid
    where end_date is not null
),

final as (
    select
        ends.customer_id,
        ends.churn_date
    from ends
    where not exists (
        select 1
        from paid
        where paid.customer_id = ends.customer_id
          and paid.start_date <= ends.churn_date
          and (paid.end_date is null or paid.end_date > ends.churn_date)
    )
)

select * from final
