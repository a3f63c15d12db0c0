-- Whether a day partition holds no fact (a day taken out by an empty file keeps its dead rows).
SELECT NOT EXISTS (SELECT 1 FROM {part});
