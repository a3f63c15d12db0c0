-- An empty day partition made new: its dead rows and index entries go, and the COPY that follows
-- may write its rows frozen (FREEZE needs a table created or truncated in the same transaction).
TRUNCATE {part};
