-- A listing's restock count: bumped whenever its stock grows (the host raises its
-- quantity), so a process's view of the least stock it has seen knows a newer
-- figure from an older one (within one epoch stock only goes down).
ALTER TABLE listings ADD COLUMN stock_epoch INTEGER NOT NULL DEFAULT 0;
