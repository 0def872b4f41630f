/*
 * jsonb: json-c building steps that take over what they are given (see
 * jsonb.h).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jsonb.h"

int
jsonb_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

int
jsonb_push(struct json_object *arr, struct json_object *v)
{
	if (v == NULL)
		return -1;
	if (json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

struct json_object *
jsonb_text(const char *type, const char *s)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) == NULL)
		return NULL;
	if (jsonb_add(o, "type", json_object_new_string(type)) == -1 ||
	    jsonb_add(o, "text", json_object_new_string(s)) == -1) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *
jsonb_print(struct json_object *o, size_t max)
{
	const char	*s;
	char		*out = NULL;

	if (o == NULL)
		return NULL;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	if (s != NULL && strlen(s) <= max)
		out = strdup(s);
	json_object_put(o);
	return out;
}

int
jsonb_str(struct json_object *obj, const char *key, const char **s,
    size_t *n)
{
	struct json_object	*v;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*s = json_object_get_string(v);
	*n = (size_t)json_object_get_string_len(v);
	return strlen(*s) == *n ? 1 : -1;
}
