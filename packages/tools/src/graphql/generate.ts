import {
  buildClientSchema,
  getNamedType,
  isInterfaceType,
  isLeafType,
  isNonNullType,
  isObjectType,
  Kind,
  parse,
  validate,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type IntrospectionQuery,
  type OperationDefinitionNode,
} from 'graphql';
import { z } from 'zod';
import { defineTool, type BuiltinTool } from '../define-tool';
import { ToolError } from '../tool-error';
import { GraphqlClient, type GraphqlClientOptions } from './client';
import { inputSchema, rootFieldOutput, type ScalarOverrides } from './to-zod';

export interface GraphqlOperation {
  /** The tool's name, `<integration>.<action>`. */
  name: string;
  /** The root field to call, e.g. `product` or `customerCreate`. */
  field: string;
  /** @defaultValue the root type that has `field`, queries first */
  kind?: 'query' | 'mutation';
  /** What agents read. @defaultValue the field's description in the schema */
  description?: string;
  /**
   * The result's selection set, e.g. `{ id title variants(first: 5) { nodes { id } } }`.
   * @defaultValue the scalar fields, and those of nested objects (not connections) to `depth`
   */
  selection?: string;
}

export interface GraphqlToolsOptions {
  integration: string;
  /** An introspection result (`data` of `getIntrospectionQuery()`), or the whole answer. */
  introspection: IntrospectionQuery | { data: IntrospectionQuery };
  /** The endpoint below `baseUrl` for an API version, e.g. Shopify's `/admin/api/{version}/graphql.json`. */
  path: (apiVersion: string | null) => string;
  /** The version the selections were written against. */
  apiVersion?: string;
  operations: GraphqlOperation[];
  /** zod schemas for custom scalars, by name. */
  scalars?: ScalarOverrides;
  /** Nesting of default selections. @defaultValue 2 */
  depth?: number;
  client?: Omit<GraphqlClientOptions, 'path' | 'write'>;
}

function fieldsOf(type: GraphQLNamedType): GraphQLField<unknown, unknown>[] {
  return isObjectType(type) || isInterfaceType(type) ? Object.values(type.getFields()) : [];
}

const needsArguments = (field: GraphQLField<unknown, unknown>) => field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined);

/** Scalars and enums, then nested objects' scalars down to `depth`; connections and fields with required arguments are left out. */
export function defaultSelection(type: GraphQLNamedType, depth: number): string {
  if (isLeafType(type)) return '';
  const parts: string[] = [];
  for (const field of fieldsOf(type)) {
    if (needsArguments(field)) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named)) parts.push(field.name);
    else if (depth > 1 && !named.name.endsWith('Connection')) {
      const inner = defaultSelection(named, depth - 1);
      if (inner !== '{ __typename }') parts.push(`${field.name} ${inner}`);
    }
  }
  return parts.length > 0 ? `{ ${parts.join(' ')} }` : '{ __typename }';
}

function rootField(schema: GraphQLSchema, op: GraphqlOperation): { kind: 'query' | 'mutation'; field: GraphQLField<unknown, unknown> } {
  for (const kind of op.kind ? [op.kind] : (['query', 'mutation'] as const)) {
    const root = kind === 'query' ? schema.getQueryType() : schema.getMutationType();
    const field = root?.getFields()[op.field];
    if (field) return { kind, field };
  }
  throw new Error(`${op.name}: the schema has no ${op.kind ?? 'query or mutation'} field "${op.field}"`);
}

/** Mutation payloads (Shopify, GitHub) report rejected input as `userErrors` instead of `errors`. */
function throwOnUserErrors(value: unknown): void {
  const userErrors = (value as { userErrors?: unknown } | null)?.userErrors;
  if (!Array.isArray(userErrors) || userErrors.length === 0) return;
  const text = userErrors.map((e: { field?: unknown; message?: unknown }) => `${Array.isArray(e.field) ? `${e.field.join('.')}: ` : ''}${String(e.message)}`).join('; ');
  throw new ToolError('VALIDATION_ERROR', { message: `rejected by the upstream: ${text}`, retryable: false });
}

/**
 * Turns chosen queries and mutations of a GraphQL schema into tools: the
 * field's arguments become the input (zod, hence JSON Schema for agents), the
 * selection set becomes the output schema, and each call goes through
 * {@link GraphqlClient} (cost budget, error mapping). Documents are built and
 * validated against the schema here, once, so a wrong selection fails at
 * start rather than on an agent's call.
 */
export function graphqlTools(options: GraphqlToolsOptions): BuiltinTool[] {
  const introspection = 'data' in options.introspection ? options.introspection.data : options.introspection;
  const schema = buildClientSchema(introspection);
  const scalars = options.scalars ?? {};
  return options.operations.map((op) => {
    const { kind, field } = rootField(schema, op);
    const selection = op.selection ?? defaultSelection(getNamedType(field.type), options.depth ?? 2);
    const operationName = op.name.split('.').pop()!;
    const variables = field.args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
    const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
    const source = `${kind} ${operationName}${variables ? `(${variables})` : ''} { ${field.name}${args ? `(${args})` : ''} ${selection} }`;
    const document = parse(source);
    const problems = validate(schema, document);
    if (problems.length > 0) throw new Error(`${op.name}: ${problems.map((p) => p.message).join('; ')}`);
    const fieldNode = (document.definitions[0] as OperationDefinitionNode).selectionSet.selections[0];
    const selectionSet = fieldNode?.kind === Kind.FIELD ? fieldNode.selectionSet : undefined;

    const cache = new Map<string, z.ZodType>();
    const shape: Record<string, z.ZodType> = {};
    for (const arg of field.args) {
      const { schema: argSchema, required } = inputSchema(arg.type, scalars, cache);
      const described = arg.description ? argSchema.describe(arg.description) : argSchema;
      shape[arg.name] = required && arg.defaultValue === undefined ? described : described.optional();
    }
    const write = kind === 'mutation';
    // A lookup (a query with required arguments) that finds nothing is NOT_FOUND, as a REST 404 would be.
    const lookup = !write && needsArguments(field) && !isNonNullType(field.type);
    return defineTool({
      name: op.name,
      integration: options.integration,
      description: op.description ?? field.description ?? `${kind} ${field.name}`,
      input: z.strictObject(shape),
      output: rootFieldOutput(schema, field.type, selectionSet, scalars, !lookup),
      // Reads may be sent again freely; a mutation carries no key GraphQL APIs honour.
      idempotent: !write,
      write,
      ...(options.apiVersion ? { apiVersion: options.apiVersion } : {}),
      async run(input, ctx, meta) {
        const client = new GraphqlClient(ctx, { ...options.client, path: options.path(meta.apiVersion), write });
        const data = await client.request<Record<string, unknown>>(source, input as Record<string, unknown>, operationName);
        const value = data[field.name];
        if (lookup && (value === null || value === undefined)) {
          throw new ToolError('NOT_FOUND', { message: `${field.name} found nothing for ${JSON.stringify(input)}` });
        }
        if (write) throwOnUserErrors(value);
        return value;
      },
    });
  });
}
