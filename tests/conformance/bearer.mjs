// Preloaded into the conformance suite's Node process (`node --import`): every HTTP request it
// makes to the daemon carries `Authorization: Bearer $CONSTRUCT_ACTOR_API_KEY`, as a configured
// MCP client's requests carry its header. The suite has no option for headers of its own, and
// it sends requests both through fetch (the SDK's transport) and through undici directly; both
// go through undici's global dispatcher, which this replaces with one that adds the header
// wherever the request has no Authorization of its own.
import { Agent, setGlobalDispatcher } from "undici";

const key = process.env.CONSTRUCT_ACTOR_API_KEY;
if (!key) {
  throw new Error("bearer.mjs needs CONSTRUCT_ACTOR_API_KEY");
}
const value = `Bearer ${key}`;

function withAuthorization(headers) {
  if (headers == null) {
    return { authorization: value };
  }
  if (Array.isArray(headers)) {
    // Either a flat [name, value, name, value…] list or a list of [name, value] pairs.
    const flat = headers.length > 0 && Array.isArray(headers[0]) ? headers.flat() : headers;
    for (let i = 0; i < flat.length; i += 2) {
      if (String(flat[i]).toLowerCase() === "authorization") return flat;
    }
    return [...flat, "authorization", value];
  }
  if (typeof headers[Symbol.iterator] === "function") {
    return withAuthorization([...headers]);
  }
  if (Object.keys(headers).some((name) => name.toLowerCase() === "authorization")) {
    return headers;
  }
  return { ...headers, authorization: value };
}

setGlobalDispatcher(
  new Agent().compose((dispatch) => (options, handler) =>
    dispatch({ ...options, headers: withAuthorization(options.headers) }, handler),
  ),
);
