-- The provider's own reference of a payment (e.g. the transaction or Kassenzeichen an
-- ePayBL Paypage hands out when the payment is registered), to ask the provider about it
-- later. The built-in test provider has none.
ALTER TABLE payments ADD COLUMN provider_reference TEXT;
