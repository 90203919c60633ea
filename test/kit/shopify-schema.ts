/**
 * A subset of Shopify's Admin GraphQL schema, type for type as Shopify
 * publishes it (names, nullability, connections, `userErrors`), enough for
 * the built-in tools and the generated-tools demo. The committed
 * introspection fixture (test/fixtures/graphql/shopify-admin.introspection.json)
 * is this schema introspected; a test keeps the two in step.
 */
export const SHOPIFY_ADMIN_SDL = /* GraphQL */ `
"""An ISO-8601 encoded UTC date time string."""
scalar DateTime
"""A signed decimal number, serialized as a string."""
scalar Decimal
"""A URL string."""
scalar URL

type Query {
  """Returns a list of orders placed in the store."""
  orders(first: Int, after: String, last: Int, before: String, query: String, sortKey: OrderSortKeys = PROCESSED_AT, reverse: Boolean = false): OrderConnection!
  """Returns an Order resource by ID."""
  order(id: ID!): Order
  """Returns a Product resource by ID."""
  product(id: ID!): Product
  """Returns a Customer resource by ID."""
  customer(id: ID!): Customer
}

type Mutation {
  """Create a new customer."""
  customerCreate(input: CustomerInput!): CustomerCreatePayload
  """Add tags to an order, a draft order, a customer, a product, or an online store article."""
  tagsAdd(id: ID!, tags: [String!]!): TagsAddPayload
}

enum OrderSortKeys { CREATED_AT CUSTOMER_NAME ID ORDER_NUMBER PROCESSED_AT TOTAL_PRICE UPDATED_AT }
enum OrderDisplayFinancialStatus { AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED }
enum OrderDisplayFulfillmentStatus { FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT RESTOCKED SCHEDULED UNFULFILLED }
enum CurrencyCode { CAD EUR GBP USD }
enum ProductStatus { ACTIVE ARCHIVED DRAFT }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type MoneyV2 {
  amount: Decimal!
  currencyCode: CurrencyCode!
}

type MoneyBag {
  shopMoney: MoneyV2!
  presentmentMoney: MoneyV2!
}

type Customer {
  id: ID!
  displayName: String!
  firstName: String
  lastName: String
  email: String
  phone: String
  tags: [String!]!
  createdAt: DateTime!
}

type LineItem {
  id: ID!
  title: String!
  quantity: Int!
  sku: String
  originalUnitPriceSet: MoneyBag!
}

type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

type Order {
  id: ID!
  name: String!
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  email: String
  note: String
  tags: [String!]!
  currencyCode: CurrencyCode!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  totalPriceSet: MoneyBag!
  customer: Customer
  lineItems(first: Int, after: String): LineItemConnection!
}

type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

type ProductVariant {
  id: ID!
  title: String!
  sku: String
  price: Decimal!
  inventoryQuantity: Int
}

type ProductVariantConnection { nodes: [ProductVariant!]! pageInfo: PageInfo! }

type Product {
  id: ID!
  title: String!
  handle: String!
  descriptionHtml: String!
  status: ProductStatus!
  vendor: String!
  tags: [String!]!
  onlineStoreUrl: URL
  createdAt: DateTime!
  variants(first: Int, after: String): ProductVariantConnection!
}

"""The input fields and values to use when creating or updating a customer."""
input CustomerInput {
  email: String
  firstName: String
  lastName: String
  phone: String
  note: String
  tags: [String!]
  addresses: [MailingAddressInput!]
  emailMarketingConsent: CustomerEmailMarketingConsentInput
}

input MailingAddressInput {
  address1: String
  address2: String
  city: String
  countryCode: String
  zip: String
}

enum CustomerEmailMarketingState { NOT_SUBSCRIBED PENDING SUBSCRIBED UNSUBSCRIBED }

input CustomerEmailMarketingConsentInput {
  marketingState: CustomerEmailMarketingState!
  consentUpdatedAt: DateTime
}

type UserError {
  field: [String!]
  message: String!
}

type CustomerCreatePayload { customer: Customer userErrors: [UserError!]! }
type TagsAddPayload { node: Order userErrors: [UserError!]! }
`;
