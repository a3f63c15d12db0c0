DROP VIEW _added;
