export { paginate, DEFAULT_MAX_RECORDS, type Page, type FetchPage, type PaginateOptions, type Paginated, type PaginationContext } from './paginate';
export { cursorPages, offsetPages, linkHeaderPages } from './styles';
export { parseLinkHeader } from './link-header';
