/*
 * nplus1_client: a small client that talks the extended query protocol,
 * as ORMs do, for the N+1 TAP test.
 *
 *   nplus1_client CONNINFO MODE N
 *
 * MODE prepared: in a transaction, one parent query, then N executions of a
 *                named prepared statement (PQprepare + PQexecPrepared).
 * MODE params:   autocommit, one parent query, then N PQexecParams calls
 *                (unnamed statements, parsed each time).
 * MODE hot:      N separate transactions, each one lookup (a hot endpoint).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

static void
check(PGconn *conn, PGresult *res, const char *what)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "%s failed: %s", what, PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		exit(1);
	}
	PQclear(res);
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	const char *mode;
	int			n;
	char		id[16];
	const char *params[1];

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s CONNINFO prepared|params|hot N\n", argv[0]);
		return 2;
	}
	mode = argv[2];
	n = atoi(argv[3]);
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "connection failed: %s", PQerrorMessage(conn));
		return 1;
	}
	params[0] = id;

	if (strcmp(mode, "prepared") == 0)
	{
		check(conn, PQexec(conn, "BEGIN"), "begin");
		snprintf(id, sizeof(id), "%d", 3);
		check(conn, PQexecParams(conn, "SELECT id FROM client_orders WHERE customer = $1",
								 1, NULL, (const char *const *) params, NULL, NULL, 0),
			  "parent");
		check(conn, PQprepare(conn, "item", "SELECT name FROM client_items WHERE id = $1",
							  1, NULL), "prepare");
		for (int i = 1; i <= n; i++)
		{
			snprintf(id, sizeof(id), "%d", i);
			check(conn, PQexecPrepared(conn, "item", 1, (const char *const *) params,
									   NULL, NULL, 0), "execute");
		}
		check(conn, PQexec(conn, "COMMIT"), "commit");
	}
	else if (strcmp(mode, "params") == 0)
	{
		snprintf(id, sizeof(id), "%d", 7);
		check(conn, PQexecParams(conn, "SELECT id FROM client_orders WHERE customer = $1",
								 1, NULL, (const char *const *) params, NULL, NULL, 0),
			  "parent");
		for (int i = 1; i <= n; i++)
		{
			snprintf(id, sizeof(id), "%d", i);
			check(conn, PQexecParams(conn, "SELECT price FROM client_items WHERE id = $1",
									 1, NULL, (const char *const *) params, NULL, NULL, 0),
				  "lookup");
		}
	}
	else if (strcmp(mode, "hot") == 0)
	{
		for (int i = 1; i <= n; i++)
		{
			snprintf(id, sizeof(id), "%d", i);
			check(conn, PQexec(conn, "BEGIN"), "begin");
			check(conn, PQexecParams(conn, "SELECT stock FROM client_items WHERE id = $1",
									 1, NULL, (const char *const *) params, NULL, NULL, 0),
				  "hot lookup");
			check(conn, PQexec(conn, "COMMIT"), "commit");
		}
	}
	else
	{
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	PQfinish(conn);
	return 0;
}
