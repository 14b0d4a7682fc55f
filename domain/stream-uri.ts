/**
 * Stream URIs have the form `<scheme>://<host>/<streamId>[?capabilities=a,b]`. Stream ids may
 * contain `#`, which a URL parser would take as the start of a fragment, so `#` is encoded as
 * `%23` before parsing and the path is decoded afterwards.
 */

export interface ParsedStreamUri {
  scheme: string;
  host: string;
  streamId: string;
  capabilities: string[];
}

export function parseStreamUri(uri: string): ParsedStreamUri | undefined {
  let url: URL;
  try {
    url = new URL(uri.replaceAll('#', '%23'));
  } catch {
    return undefined;
  }
  const path = url.pathname.replace(/^\//, '');
  if (path === '') {
    return undefined;
  }
  let streamId: string;
  try {
    streamId = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  const capabilities = url.searchParams.get('capabilities');
  return {
    scheme: url.protocol.replace(/:$/, ''),
    host: url.host,
    streamId,
    capabilities: capabilities ? capabilities.split(',').filter((c) => c !== '') : [],
  };
}

/** Builds a URI; `#` in the stream id stays literal, as clients of the platform expect. */
export function formatStreamUri(parts: ParsedStreamUri): string {
  const query =
    parts.capabilities.length > 0 ? `?capabilities=${parts.capabilities.join(',')}` : '';
  return `${parts.scheme}://${parts.host}/${parts.streamId}${query}`;
}

/**
 * Returns the member URI for a mirror: the origin URI's scheme and host, the mirror id as path
 * and the fork's stream capabilities as its only query.
 */
export function rewriteStreamUri(
  originUri: string,
  mirrorStreamId: string,
  capabilities: string[],
): string | undefined {
  const parsed = parseStreamUri(originUri);
  if (parsed === undefined) {
    return undefined;
  }
  return formatStreamUri({ ...parsed, streamId: mirrorStreamId, capabilities });
}
