-- Whether transaction ids compare in byte order in this database (C / POSIX / C.UTF-8, libc or
-- builtin provider): then Arrow's string comparison agrees with the ids' index order.
SELECT CASE datlocprovider
           WHEN 'b' THEN true
           WHEN 'c' THEN datcollate IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8')
           ELSE false
       END
FROM pg_database
WHERE datname = current_database();
