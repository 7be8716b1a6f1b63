-- 0005 added `record`, `sharer_commission_percent` and `layout` to streams for the
-- outputs and sharers work, which then kept them in tables of their own
-- (stream_outputs, 0006; stream_sharing, 0009): nothing reads or writes these.
ALTER TABLE streams DROP COLUMN record;
ALTER TABLE streams DROP COLUMN sharer_commission_percent;
ALTER TABLE streams DROP COLUMN layout;
