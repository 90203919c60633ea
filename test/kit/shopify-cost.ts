import {
  getNamedType,
  isLeafType,
  isObjectType,
  isInterfaceType,
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';

/**
 * Shopify's static query cost, simplified from https://shopify.dev/docs/api/usage/limits#cost-calculation:
 * a scalar or enum costs 0, an object 1, a connection 2 plus `first` (or
 * `last`) times the cost of one node, a mutation 10.
 */
export function queryCost(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>, operationName?: string): number {
  const operation = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION && (operationName === undefined || d.name?.value === operationName));
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) return 0;
  const root = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  if (!root) return 0;
  const cost = selectionCost(operation.selectionSet, root, variables);
  return operation.operation === 'mutation' ? 10 + cost : cost;
}

function selectionCost(selectionSet: SelectionSetNode | undefined, parent: GraphQLNamedType, variables: Record<string, unknown>): number {
  if (!selectionSet || !(isObjectType(parent) || isInterfaceType(parent))) return 0;
  let cost = 0;
  for (const node of selectionSet.selections) {
    if (node.kind === Kind.INLINE_FRAGMENT) {
      cost += selectionCost(node.selectionSet, parent, variables);
      continue;
    }
    if (node.kind !== Kind.FIELD) continue;
    const field = parent.getFields()[node.name.value];
    if (!field) continue;
    const type = getNamedType(field.type);
    if (isLeafType(type)) continue;
    if (type.name.endsWith('Connection')) {
      const arg = (name: string) => {
        const a = node.arguments?.find((x) => x.name.value === name);
        return a ? Number(valueFromASTUntyped(a.value, variables)) : undefined;
      };
      const size = arg('first') ?? arg('last') ?? 0;
      // The cost of one node: what is selected under `nodes` or `edges { node }`, pageInfo excluded.
      let perNode = 0;
      for (const child of node.selectionSet?.selections ?? []) {
        if (child.kind !== Kind.FIELD || child.name.value === 'pageInfo') continue;
        const childType = getNamedType(isObjectType(type) ? type.getFields()[child.name.value]!.type : type);
        perNode += 1 + selectionCost(child.selectionSet, childType, variables);
      }
      cost += 2 + size * perNode;
    } else {
      cost += 1 + selectionCost(node.selectionSet, type, variables);
    }
  }
  return cost;
}
