/*
 * jsonb: building JSON with json-c, the few steps every builder repeats
 * (and the one reader of a string member, below).
 *
 * json-c takes over a value added to an object or an array only when
 * the add succeeds; these helpers take it over in every case (releasing
 * it on failure), and take a NULL value (a constructor that ran out of
 * memory) as a failure, so that a builder can chain them with || and
 * release only its root on the way out.  Printing makes the plain,
 * unescaped-slash text every peer of forcelink reads.  Used by every
 * builder of json-c objects: the Slack messages (render.c), the Case
 * form and request (casefrm.c, sf_case.c).
 */
#ifndef FORCELINK_JSONB_H
#define FORCELINK_JSONB_H

#include <stddef.h>

struct json_object;

/* Adds v under key to object o; v is taken over (released on failure,
 * NULL is a failure).  Returns 0, or -1. */
int		 jsonb_add(struct json_object *o, const char *key,
		    struct json_object *v);

/* Appends v to array arr; as jsonb_add.  Returns 0, or -1. */
int		 jsonb_push(struct json_object *arr, struct json_object *v);

/* A new object {"type": type, "text": s}, or NULL. */
struct json_object *jsonb_text(const char *type, const char *s);

/*
 * Reading: member key of obj (an object, or NULL: absent) as a string,
 * borrowed from obj.  Returns 1 with *s and *n, 0 when it is absent or
 * null, -1 when it is of another type or holds a NUL (a string a C
 * reader would see cut short).  The one reader of a string member of
 * Slack's JSON (slackapi.c, slackweb.c, payload.c).
 */
int		 jsonb_str(struct json_object *obj, const char *key,
		    const char **s, size_t *n);

/* o printed (plain, "/" unescaped) into an allocated string of at most
 * max bytes, and o released; NULL when o is NULL, on memory exhaustion
 * or past max. */
char		*jsonb_print(struct json_object *o, size_t max);

#endif
