-- "BankID on this computer" is refused when BankID says another device completed it (a relayed
-- login). `end_user_ip`: the address sent to BankID as `endUserIp`, compared with
-- `completionData.device.ipAddress` by whichever instance collects the order; empty for orders
-- started before this column existed (they count as unknown, so such an order is refused and
-- simply started again). `error_code`: a failure of ours rather than BankID's (e.g.
-- `bankid_ip_mismatch`), shown instead of the RFA message.
ALTER TABLE bankid_orders ADD COLUMN end_user_ip TEXT NOT NULL DEFAULT '';
ALTER TABLE bankid_orders ADD COLUMN error_code TEXT;
