-- Fill the staged customers' {columns} from their subscriptions (ingest
-- files may leave them out; customer_state.sql holds the rule).
update staging.customers
set {assignments}
from (
    {customer_state}
) as implied
where customers.customer_id = implied.customer_id
