import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  Kind,
  type GraphQLInputType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { z } from 'zod';

/**
 * Custom scalars by name: what they carry on the wire. Shopify's (and most
 * APIs') date, money, URL and big-integer scalars travel as strings; `JSON`
 * is anything. An unknown custom scalar is accepted as is.
 */
const STRING_SCALARS = new Set([
  'DateTime',
  'Date',
  'Time',
  'URL',
  'URI',
  'HTML',
  'Decimal',
  'Money',
  'UnsignedInt64',
  'BigInt',
  'FormattedString',
  'Color',
  'ARN',
  'UtcOffset',
  'StorefrontID',
  'GitObjectID',
  'GitTimestamp',
  'X509Certificate',
]);

export type ScalarOverrides = Record<string, () => z.ZodType>;

function scalar(name: string, overrides: ScalarOverrides): z.ZodType {
  const override = overrides[name];
  if (override) return override();
  switch (name) {
    case 'ID':
    case 'String':
      return z.string();
    case 'Int':
      return z.int();
    case 'Float':
      return z.number();
    case 'Boolean':
      return z.boolean();
    case 'JSON':
      return z.unknown();
    default:
      if (STRING_SCALARS.has(name)) return z.string();
      // A scalar we cannot describe is passed through for the API (or the agent) to judge.
      return z.unknown();
  }
}

/**
 * A zod schema for a GraphQL input type: non-null is required, nullable is
 * optional, input objects are strict (a misspelled field is an error here,
 * not a silent null upstream), recursive input types are lazy.
 */
export function inputSchema(type: GraphQLInputType, overrides: ScalarOverrides = {}, cache = new Map<string, z.ZodType>()): { schema: z.ZodType; required: boolean } {
  if (isNonNullType(type)) return { schema: inputSchema(type.ofType, overrides, cache).schema, required: true };
  if (isListType(type)) return { schema: z.array(inputSchema(type.ofType, overrides, cache).schema), required: false };
  if (isEnumType(type)) {
    const values = type.getValues().map((v) => v.name);
    const schema = z.enum(values as [string, ...string[]]);
    return { schema: type.description ? schema.describe(type.description) : schema, required: false };
  }
  if (isInputObjectType(type)) {
    const cached = cache.get(type.name);
    if (cached) return { schema: cached, required: false };
    // Registered before its fields are built, so a field that refers back to this type finds it.
    let built: z.ZodType | undefined;
    const lazy = z.lazy(() => built!);
    cache.set(type.name, lazy);
    const shape: Record<string, z.ZodType> = {};
    for (const field of Object.values(type.getFields())) {
      const { schema, required } = inputSchema(field.type, overrides, cache);
      const described = field.description ? schema.describe(field.description) : schema;
      shape[field.name] = required ? described : described.optional();
    }
    built = z.strictObject(shape);
    if (type.description) built = built.describe(type.description);
    return { schema: lazy, required: false };
  }
  return { schema: scalar(getNamedType(type).name, overrides), required: false };
}

function nonNullOutput(schema: GraphQLSchema, type: GraphQLOutputType, selection: SelectionSetNode | undefined, overrides: ScalarOverrides): z.ZodType {
  if (isNonNullType(type)) return nonNullOutput(schema, type.ofType, selection, overrides);
  if (isListType(type)) return z.array(fieldOutput(schema, type.ofType, selection, overrides));
  if (isEnumType(type)) return z.string();
  if (isScalarType(type)) return scalar(type.name, overrides);
  if (!selection) throw new Error(`a selection set is needed for ${String(type)}`);
  const shape: Record<string, z.ZodType> = {};
  for (const node of selection.selections) {
    if (node.kind === Kind.FIELD) {
      const name = node.name.value;
      const key = node.alias?.value ?? name;
      if (name === '__typename') {
        shape[key] = z.string();
        continue;
      }
      if (!isObjectType(type) && !isInterfaceType(type)) throw new Error(`cannot select "${name}" on ${type.name} without a fragment`);
      const field = type.getFields()[name];
      if (!field) throw new Error(`${type.name} has no field "${name}"`);
      shape[key] = fieldOutput(schema, field.type, node.selectionSet, overrides);
    } else if (node.kind === Kind.INLINE_FRAGMENT) {
      // Fields of a fragment appear only when the object is of that type.
      const on = node.typeCondition ? schema.getType(node.typeCondition.name.value) : type;
      if (!on || !(isObjectType(on) || isInterfaceType(on) || isUnionType(on))) throw new Error(`unknown fragment type on ${type.name}`);
      const inner = nonNullOutput(schema, on, node.selectionSet, overrides) as z.ZodObject;
      for (const [key, value] of Object.entries(inner.shape)) shape[key] ??= (value as z.ZodType).optional();
    } else {
      throw new Error('named fragments are not supported in generated tools; inline them');
    }
  }
  return z.object(shape);
}

function fieldOutput(schema: GraphQLSchema, type: GraphQLOutputType, selection: SelectionSetNode | undefined, overrides: ScalarOverrides): z.ZodType {
  const inner = nonNullOutput(schema, type, selection, overrides);
  return isNonNullType(type) ? inner : inner.nullable();
}

/**
 * A zod schema for what one selected field returns: only the selected fields
 * (aliases respected), nullable where the schema says so. Output enums are
 * strings, so a value added upstream later is not a SCHEMA_MISMATCH.
 */
export function rootFieldOutput(
  schema: GraphQLSchema,
  type: GraphQLOutputType,
  selection: SelectionSetNode | undefined,
  overrides: ScalarOverrides = {},
  /** False when a null answer is turned into an error (a lookup's NOT_FOUND). @defaultValue true */
  nullable = true,
): z.ZodType {
  return nullable ? fieldOutput(schema, type, selection, overrides) : nonNullOutput(schema, type, selection, overrides);
}
