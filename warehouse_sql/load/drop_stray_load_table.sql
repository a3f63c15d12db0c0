-- A fresh-partition table that a crashed load of the previous loader (before 006) may have left.
DROP TABLE IF EXISTS {stray};
