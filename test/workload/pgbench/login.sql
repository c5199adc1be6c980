-- login by e-mail, case-insensitive: needs an expression index
\set uid random(1, 50000)
SELECT id, full_name FROM users WHERE lower(email) = lower('user' || :uid || '@example.com');
