-- A list page finds its ids by an index-only scan in the default order (number, then id):
-- with OFFSET, every skipped row used to be fetched from the heap.
CREATE INDEX extensions_tenant_number_id ON extensions (tenant, length(number), number, id);
