-- Pages of the default sort orders without sorting the whole tenant.
CREATE INDEX extensions_tenant_number_order ON extensions (tenant, length(number), number);
CREATE INDEX accounts_tenant_username ON accounts (tenant, username);
