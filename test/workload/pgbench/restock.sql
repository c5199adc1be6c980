-- ERP: nightly restock of one farm's products (row-by-row in PL/pgSQL)
\set fid random(1, 200)
SELECT restock_farm(:fid, 10);
