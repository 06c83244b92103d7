import type { QfpayMcpRuntime, RuntimeOptions } from '../mcp/runtime.js';
import { maskAppcode } from '../qfpay/text.js';
import { readPackageVersion } from './version.js';

/**
 * Human-facing text the command line prints. Nothing here may contain a key or a token: the
 * merchant app code is masked and only the name of the token variable is ever shown.
 */

type RuntimeSummary = Pick<
  QfpayMcpRuntime,
  'environment' | 'baseUrl' | 'merchant' | 'toolNames' | 'readOnly'
>;

export interface StartupDetails {
  transport: 'stdio' | 'http';
  url?: string;
  authenticated?: boolean;
  options: Pick<RuntimeOptions, 'toolsets' | 'env'>;
}

/** One line on stderr: what this process serves, against what, with which restrictions. */
export function startupLine(runtime: RuntimeSummary, details: StartupDetails): string {
  const fields = [
    `transport=${details.transport}`,
    ...(details.url ? [`url=${details.url}`] : []),
    ...(details.transport === 'http'
      ? [`auth=${details.authenticated ? 'bearer' : 'none (loopback only)'}`]
      : []),
    `environment=${runtime.environment}`,
    `base_url=${runtime.baseUrl || 'none'}`,
    `merchant=${runtime.merchant ? maskAppcode(runtime.merchant.appcode) : 'none'}`,
    ...(runtime.merchant?.mchid ? [`mchid=${maskAppcode(runtime.merchant.mchid)}`] : []),
    `toolsets=${details.options.toolsets?.join(',') ?? (details.options.env?.QFPAY_TOOLSETS?.trim() || 'all')}`,
    `tools=${runtime.toolNames.length}`,
    `read_only=${runtime.readOnly ? 'yes' : 'no'}`,
  ];
  return `qfpay-mcp ${readPackageVersion()} ready: ${fields.join(' ')}`;
}

export interface ClientConfigDetails {
  url: string;
  authenticated: boolean;
  environment: string;
}

/**
 * What `npm start` prints on stdout in HTTP mode: the endpoint and configs to paste into MCP
 * hosts. The Authorization header holds a placeholder the host expands from its environment,
 * never the token itself.
 */
export function clientConfigSnippet(details: ClientConfigDetails): string {
  const entry = (placeholder: string) => ({
    type: 'http',
    url: details.url,
    ...(details.authenticated && { headers: { Authorization: `Bearer ${placeholder}` } }),
  });
  const claudeCode = JSON.stringify({ mcpServers: { qfpay: entry('${QFPAY_MCP_TOKEN}') } }, null, 2);
  const cursor = JSON.stringify({ mcpServers: { qfpay: entry('${env:QFPAY_MCP_TOKEN}') } }, null, 2);
  const headerFlag = details.authenticated ? ' --header "Authorization: Bearer $QFPAY_MCP_TOKEN"' : '';
  const environmentNote =
    details.environment === 'local'
      ? 'environment "local": the embedded QFPay simulator, no real money moves'
      : `environment "${details.environment}"`;
  const configs = details.authenticated
    ? ['Claude Code (.mcp.json):', '', claudeCode, '', 'Cursor (.cursor/mcp.json):', '', cursor]
    : ['Claude Code (.mcp.json) or Cursor (.cursor/mcp.json):', '', claudeCode];
  return [
    '',
    `qfpay-mcp is serving MCP over Streamable HTTP at ${details.url}`,
    `(${environmentNote}; health check: ${details.url.replace(/\/mcp$/, '/healthz')})`,
    '',
    `Claude Code: claude mcp add --transport http qfpay ${details.url}${headerFlag}`,
    '',
    ...configs,
    '',
    details.authenticated
      ? 'The hosts read the token from QFPAY_MCP_TOKEN in their own environment; it is never printed here.'
      : 'No token is required: the server only listens on loopback. Set QFPAY_MCP_TOKEN to require one.',
    'Press Ctrl+C to stop.',
    '',
  ].join('\n');
}
